"""Payments a kiosk never got an answer for (`payment-void/1`, from its durable outbox) are voided.

The kiosk asked again under the same idempotency key for a bounded time, then queued the void and
told her that any amount taken is returned. `VoidIntake.step` (run by the request lane beside the
settling of unknown outcomes) makes that true: each void record, once, goes to
`Payments.void_unconfirmed`, which reverses an approval she never saw. The outcome is kept in
``svc_payment_voids`` (one row per record, keyed by device and message id): ``reversed``,
``nothing`` (no approval stood: declined, not charged, or never reached the acquirer),
``reversal-pending`` (the acquirer has not confirmed yet: `settle_unknown` keeps trying) or
``refused`` (the reason). While no gateway is configured a void waits: it is not marked done.
Voids are rare (a hub silent for a minute during a payment), so each round reads them all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import cbor2

from central_hub.datakey import DataCipher, DataKeyError
from central_hub.services.db import ServicesDb
from central_hub.services.errors import ServiceError
from central_hub.services.payments import Payments
from central_hub.store.base import Store
from central_hub.store.model import record_aad
from mch_link import schemas
from mch_link.errors import LinkError

log = logging.getLogger(__name__)

SCHEMA = "payment-void/1"
REVERSED, NOTHING, REVERSAL_PENDING, REFUSED = "reversed", "nothing", "reversal-pending", "refused"
_DDL = ("CREATE TABLE IF NOT EXISTS svc_payment_voids (device_id TEXT NOT NULL, msg_id BIGINT NOT NULL,"
        " status TEXT NOT NULL, detail TEXT NOT NULL, created_ms BIGINT NOT NULL, PRIMARY KEY (device_id, msg_id))")


class VoidIntake:
    def __init__(self, store: Store, db: ServicesDb, cipher: DataCipher, payments: Payments,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.db, self.cipher, self.payments, self.clock = store, db, cipher, payments, clock
        with self.db.write():
            self.db.execute(_DDL)

    def step(self) -> int:
        """Take in every void not taken in yet; returns how many were."""
        done = {(str(d), int(m)) for d, m in self.db.query("SELECT device_id, msg_id FROM svc_payment_voids")}
        rows = self.store.read("SELECT device_id, msg_id, key_id, nonce, body FROM records WHERE schema_id = ?"
                               " ORDER BY received_at_ms, msg_id", (SCHEMA,))
        taken = 0
        for device_id, msg_id, key_id, nonce, sealed in rows:
            if (str(device_id), int(msg_id)) in done:
                continue
            outcome = self._take(str(device_id), int(msg_id), key_id, nonce, sealed)
            if outcome is None:  # no gateway now: try again next round
                continue
            status, detail = outcome
            with self.db.write():
                self.db.execute("INSERT INTO svc_payment_voids (device_id, msg_id, status, detail, created_ms)"
                                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (device_id, msg_id) DO NOTHING",
                                (device_id, msg_id, status, detail, int(self.clock() * 1000)))
            log.info("payment void %s #%d: %s (%s)", device_id, msg_id, status, detail)
            taken += 1
        return taken

    def _take(self, device_id: str, msg_id: int, key_id: Any, nonce: Any, sealed: Any) -> tuple[str, str] | None:
        try:
            body = cbor2.loads(self.cipher.open(int(key_id), bytes(nonce), bytes(sealed), record_aad(device_id, msg_id)))
            schemas.validate(SCHEMA, body)
        except (DataKeyError, cbor2.CBORDecodeError, TypeError, ValueError) as exc:
            return REFUSED, f"the record does not open: {exc.__class__.__name__}"
        except LinkError as exc:
            return REFUSED, f"not a valid {SCHEMA}: {exc}"
        try:
            reversed_ = self.payments.void_unconfirmed(device_id, body)
        except ServiceError as exc:
            if exc.code == "payment-unavailable":
                return None
            return REFUSED, f"{exc.code}: {exc.message}"
        if reversed_:
            return REVERSED, f"{reversed_} approval(s) reversed"
        pending = self.db.query("SELECT count(*) FROM svc_payments WHERE booking_id = ? AND outcome = ?",
                                (body["booking_id"], REVERSAL_PENDING))
        if int(pending[0][0]):
            return REVERSAL_PENDING, "reversal sent, not yet confirmed by the acquirer"
        return NOTHING, "no approval of this payment stood"


def voids(db: ServicesDb) -> list[tuple[str, int, str, str]]:
    """(device, message id, status, detail) of every void taken in, oldest first (operators, tests)."""
    return [(str(r[0]), int(r[1]), str(r[2]), str(r[3])) for r in db.query(
        "SELECT device_id, msg_id, status, detail FROM svc_payment_voids ORDER BY created_ms, device_id, msg_id")]
