"""Card bindings (签约): a card token and the masked PAN (first 6 / last 4), never the PAN.

Binding and unbinding need the cardholder's PIN verified first (services/cardholder.py): both
take the ticket of that verification, for this patient and this card's token."""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from central_hub.services.db import ServicesDb
from central_hub.services.errors import ServiceError, bad_request

MASKED_PAN_RE = re.compile(r"^[0-9]{6}\*{2,9}[0-9]{4}$")
TOKEN_RE = re.compile(r"^[0-9A-Za-z_:.-]{16,128}$")  # e.g. the kiosk's "epp-mac1:<hex>"


RequireVerified = Callable[[str, str, object], None]  # (patient id, card token, ticket): raises if not verified


def _no_check(patient_id: str, card_token: str, ticket: object) -> None:
    return None


class CardBindings:
    def __init__(self, db: ServicesDb, clock: Callable[[], float] = time.time,
                 require_verified: RequireVerified = _no_check) -> None:
        self.db, self.clock, self.require_verified = db, clock, require_verified

    def bind(self, patient_id: str, args: dict[str, Any]) -> dict[str, Any]:
        token, masked = args.get("card_token"), args.get("masked_pan")
        if not isinstance(masked, str) or not MASKED_PAN_RE.match(masked):
            raise bad_request("masked_pan: want the first 6 and last 4 digits with * between (never a whole PAN)")
        if not isinstance(token, str) or not TOKEN_RE.match(token):
            raise bad_request("card_token: want 16..128 letters, digits or _ : . -")
        self.require_verified(patient_id, token, args.get("verification"))
        now = int(self.clock() * 1000)
        with self.db.write():
            row = self.db.execute("SELECT binding_id FROM svc_card_bindings WHERE patient_id = ? AND card_token = ?"
                                  " AND unbound_ms IS NULL", (patient_id, token)).fetchone()
            binding_id = row[0] if row else "C" + secrets.token_hex(8)
            if row is None:
                self.db.execute("INSERT INTO svc_card_bindings (binding_id, patient_id, card_token, masked_pan,"
                                " bound_ms) VALUES (?, ?, ?, ?, ?)", (binding_id, patient_id, token, masked, now))
        return next(b for b in self.list(patient_id) if b["binding_id"] == binding_id)

    def token_of(self, patient_id: str, binding_id: str) -> str:
        row = self.db.query("SELECT card_token FROM svc_card_bindings WHERE binding_id = ? AND patient_id = ?"
                            " AND unbound_ms IS NULL", (binding_id, patient_id))
        if not row:
            raise ServiceError("unknown-binding", "no such card binding for this patient")
        return str(row[0][0])

    def check_card(self, patient_id: str, binding_id: str, card_token: object) -> None:
        """Refuse (`card-mismatch`) a card that is not the one of this binding."""
        if not isinstance(card_token, str) or not hmac.compare_digest(self.token_of(patient_id, binding_id),
                                                                      card_token):
            raise ServiceError("card-mismatch", "this is not the card of that binding")

    def unbind(self, patient_id: str, binding_id: str, ticket: object = None) -> None:
        self.require_verified(patient_id, self.token_of(patient_id, binding_id), ticket)
        with self.db.write():
            cur = self.db.execute("UPDATE svc_card_bindings SET unbound_ms = ? WHERE binding_id = ? AND patient_id = ?"
                                  " AND unbound_ms IS NULL", (int(self.clock() * 1000), binding_id, patient_id))
            if cur.rowcount == 0:
                raise ServiceError("unknown-binding", "no such card binding for this patient")

    def list(self, patient_id: str) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT binding_id, masked_pan, bound_ms FROM svc_card_bindings WHERE patient_id = ?"
                             " AND unbound_ms IS NULL ORDER BY bound_ms", (patient_id,))
        return [{"binding_id": r[0], "patient_id": patient_id, "masked_pan": r[1],
                 "bound_at": dt.datetime.fromtimestamp(int(r[2]) / 1000, dt.UTC).isoformat()} for r in rows]
