"""Cardholder verification at signing (签约) and unbinding (解绑): her PIN, checked by the acquirer
in a 0100 account verification (amount 0, nothing charged), and a short-lived ticket that
`card.bind` and `card.unbind` require.

The ticket is "<expiry ms>.<keyed MAC over patient, card token and expiry>" (the services' blind
index key), so any hub worker can check it and nothing is stored; it names one patient and one
card token, so a PIN verified for one card never binds or unbinds another. The PAN is only in
the outgoing 0100; wrong-PIN counting and lockout are the issuer's (answers 55 and 75).
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import time
from collections.abc import Callable
from typing import Any

from central_hub.services.bindings import TOKEN_RE
from central_hub.services.db import ServicesDb
from central_hub.services.errors import ServiceError, bad_request
from central_hub.services.gateway import VERIFIED, AcquirerGateway
from central_hub.services.payments import STAN_MODULUS, card_fields, mask_pan
from central_hub.services.privacy import Privacy

TICKET_S = 300  # long enough for one signing; a new visit verifies again
TICKET_KIND = "cardholder-verified"
log = logging.getLogger(__name__)


class CardholderCheck:
    def __init__(self, db: ServicesDb, privacy: Privacy, gateway: AcquirerGateway | None,
                 clock: Callable[[], float] = time.time) -> None:
        self.db, self.privacy, self.gateway, self.clock = db, privacy, gateway, clock

    def verify(self, patient_id: str, args: dict[str, Any]) -> dict[str, Any]:
        card = card_fields(args)
        token = args.get("card_token")
        if not isinstance(token, str) or not TOKEN_RE.match(token):
            raise bad_request("card_token: want 16..128 letters, digits or _ : . -")
        if self.gateway is None:
            raise ServiceError("verification-unavailable", "card checks are not available now; please go to the desk")
        with self.db.write():
            stan = f"{self.db.next_number('stan') % STAN_MODULUS:06d}"
        now_s = self.clock()
        result = self.gateway.verify(card.authorisation(0, stan, dt.datetime.fromtimestamp(now_s, dt.UTC)))
        log.info("cardholder check %s for %s: %s %s", stan, mask_pan(card.pan), result.outcome,
                 result.response_code or "-")
        ticket = self.ticket(patient_id, token, int((now_s + TICKET_S) * 1000)) if result.outcome == VERIFIED else None
        return {"outcome": result.outcome, "response_code": result.response_code, "reason": result.reason,
                "ticket": ticket}

    def ticket(self, patient_id: str, card_token: str, expires_ms: int) -> str:
        return f"{expires_ms}.{self.privacy.blind_index(TICKET_KIND, f'{patient_id}|{card_token}|{expires_ms}')}"

    def require(self, patient_id: str, card_token: str, ticket: object) -> None:
        """Refuse (`not-verified`) unless `ticket` is a live verification of this patient and card."""
        expires, _, _mac = str(ticket).partition(".")
        if (not isinstance(ticket, str) or not expires.isdigit() or int(expires) < self.clock() * 1000
                or not hmac.compare_digest(ticket, self.ticket(patient_id, card_token, int(expires)))):
            raise ServiceError("not-verified", "the cardholder's PIN was not verified for this card")
