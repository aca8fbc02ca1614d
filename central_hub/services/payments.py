"""Paying a held booking: check it, record the attempt (masked PAN only), authorise, record the outcome.
The terminal MAC (`terminal_mac`, from the kiosk's PIN pad) goes to the acquirer as it came.

The PAN arrives sealed in the request, goes into the 0200 and nowhere else: not the database,
not the logs, not the idempotency record (which keeps the answer and a keyed MAC of the request).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from central_hub.services.db import ServicesDb
from central_hub.services.errors import ServiceError, bad_request
from central_hub.services.gateway import APPROVED, NOT_CHARGED, AcquirerGateway, Authorisation, GatewayResult
from central_hub.services.schedule import PAID, RELEASED, Schedule

PAN_RE = re.compile(r"^[0-9]{12,19}$")
PIN_BLOCK_RE = re.compile(r"^(?:[0-9A-F]{16}|[0-9A-F]{32})$")
TERMINAL_RE = re.compile(r"^[0-9A-Z]{8}$")
MAC_RE = re.compile(r"^[0-9A-F]{16}$")
PENDING, REVERSAL_PENDING = "pending", "reversal-pending"
STAN_MODULUS = 1_000_000
UNSETTLED_AFTER_S = 60.0  # longer than any payment request takes (answer wait + reversal attempts)


def mask_pan(pan: str) -> str:
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]


@dataclass(frozen=True)
class CardFields:
    """What a payment and a cardholder verification carry from the chip and the PIN pad."""

    pan: str
    pan_sequence: str | None
    expiry: dt.date
    pin_block_hex: str
    terminal_id: str
    terminal_mac_hex: str | None

    def authorisation(self, amount_fen: int, stan: str, at: dt.datetime) -> Authorisation:
        return Authorisation(self.pan, self.pan_sequence, f"{self.expiry:%y%m}", amount_fen, self.pin_block_hex,
                             self.terminal_id, stan, at, self.terminal_mac_hex)


def card_fields(args: dict[str, Any]) -> CardFields:
    """Check the card and PIN-pad arguments of a request (ServiceError bad-request naming the field)."""
    pan, block, terminal = args.get("pan"), str(args.get("pin_block", "")).upper(), args.get("terminal_id")
    if not isinstance(pan, str) or not PAN_RE.match(pan):
        raise bad_request("pan: want 12..19 digits")
    if not PIN_BLOCK_RE.match(block):
        raise bad_request("pin_block: want 16 or 32 hex digits")
    if not isinstance(terminal, str) or not TERMINAL_RE.match(terminal):
        raise bad_request("terminal_id: want 8 digits or capital letters")
    try:
        expiry = dt.date.fromisoformat(str(args.get("card_expiry")))
    except ValueError:
        raise bad_request("card_expiry: want YYYY-MM-DD") from None
    seq = args.get("pan_sequence")
    if seq is not None and (not isinstance(seq, str) or not seq.isdigit() or len(seq) > 3):
        raise bad_request("pan_sequence: want up to 3 digits")
    mac = args.get("terminal_mac")
    if mac is not None and (not isinstance(mac, str) or not MAC_RE.match(mac.upper())):
        raise bad_request("terminal_mac: want 16 hex digits")
    return CardFields(pan, seq, expiry, block, terminal, None if mac is None else mac.upper())


class Payments:
    def __init__(self, db: ServicesDb, schedule: Schedule, gateway: AcquirerGateway | None,
                 clock: Callable[[], float] = time.time) -> None:
        self.db, self.schedule, self.gateway, self.clock = db, schedule, gateway, clock

    def pay(self, args: dict[str, Any]) -> dict[str, Any]:
        card = card_fields(args)
        booking_id, amount = args.get("booking_id"), args.get("amount_fen")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise bad_request("amount_fen: want a positive whole number")
        if self.gateway is None:
            raise ServiceError("payment-unavailable", "card payment is not available now; please pay at the desk")
        self.schedule.claim_for_payment(str(booking_id), amount)
        payment_id = "Y" + secrets.token_hex(8)
        now = int(self.clock() * 1000)
        with self.db.write():
            self.db.execute(f"SELECT status FROM svc_bookings WHERE booking_id = ?{self.db.lock_suffix}", (booking_id,))
            busy = self.db.execute("SELECT outcome FROM svc_payments WHERE booking_id = ? AND outcome IN (?, ?, ?)",
                                   (booking_id, PENDING, APPROVED, REVERSAL_PENDING)).fetchone()
            if busy:
                raise ServiceError("already-paid" if busy[0] == APPROVED else "payment-in-progress",
                                   "this booking is paid or a payment for it is being settled")
            stan = f"{self.db.next_number('stan') % STAN_MODULUS:06d}"
            self.db.execute("INSERT INTO svc_payments (payment_id, booking_id, amount_fen, masked_pan, stan,"
                            " terminal_id, sent_ms, outcome, reason, created_ms, updated_ms)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (payment_id, booking_id, amount, mask_pan(card.pan), stan, card.terminal_id, now,
                             PENDING, "sent to the acquirer", now, now))
        result = self.gateway.authorise(card.authorisation(amount, stan, dt.datetime.fromtimestamp(now / 1000, dt.UTC)))
        self._record(payment_id, result)
        if result.outcome == APPROVED:
            self.schedule.mark_paid(str(booking_id))
        return {"payment_id": payment_id, "outcome": result.outcome, "response_code": result.response_code,
                "reason": result.reason, "auth_code": result.auth_code, "amount_fen": amount}

    def _record(self, payment_id: str, result: GatewayResult) -> None:
        outcome = REVERSAL_PENDING if result.reversal_pending else result.outcome
        with self.db.write():
            self.db.execute("UPDATE svc_payments SET outcome = ?, response_code = ?, auth_code = ?, reason = ?,"
                            " updated_ms = ? WHERE payment_id = ?",
                            (outcome, result.response_code, result.auth_code, result.reason,
                             int(self.clock() * 1000), payment_id))

    def settle_unknown(self, older_than_s: float = UNSETTLED_AFTER_S) -> int:
        """Reverse every attempt whose outcome is unknown: left `pending` (the hub stopped while the
        acquirer answered) or `reversal-pending`, older than `older_than_s`. Returns how many are
        now settled as not charged."""
        if self.gateway is None:
            return 0
        cutoff = int((self.clock() - older_than_s) * 1000)
        rows = self.db.query("SELECT payment_id, stan, terminal_id, amount_fen, sent_ms FROM svc_payments"
                             " WHERE outcome IN (?, ?) AND updated_ms <= ? ORDER BY created_ms",
                             (PENDING, REVERSAL_PENDING, cutoff))
        settled = 0
        for payment_id, stan, terminal, amount, sent_ms in rows:
            if self.gateway.reverse_unsettled(stan, terminal, int(amount), dt.datetime.fromtimestamp(
                    int(sent_ms) / 1000, dt.UTC)):
                self._record(payment_id, GatewayResult(NOT_CHARGED, None, "reversed after an interrupted payment"))
                settled += 1
        return settled

    def void_unconfirmed(self, device_id: str, body: dict[str, Any]) -> int:
        """A kiosk's `payment-void/1`: it sent a payment for this booking, amount and terminal and
        never got an answer, so the patient was not told she paid. Reverse every approval of it
        (the PAN is not kept: the 0400 names trace and terminal), mark it not charged and give the
        slot back; a reversal the acquirer does not confirm stays `reversal-pending` for
        `settle_unknown`. Only the device that sent a `payment.pay` under that idempotency key may
        void it (its idempotency record says so). Returns how many approvals are now reversed."""
        booking_id, amount, terminal = body.get("booking_id"), body.get("amount_fen"), body.get("terminal_id")
        if not isinstance(booking_id, str) or isinstance(amount, bool) or not isinstance(amount, int):
            raise bad_request("payment-void: want booking_id and amount_fen")
        if not isinstance(terminal, str) or not TERMINAL_RE.match(terminal):
            raise bad_request("terminal_id: want 8 digits or capital letters")
        idem = body.get("idempotency_key")
        sent = self.db.query("SELECT 1 FROM svc_idempotency WHERE device_id = ? AND idem_key = ? AND method = ?",
                             (device_id, idem, "payment.pay")) if isinstance(idem, str) else []
        if not sent:
            raise ServiceError("unknown-payment", "this device sent no payment under that idempotency key")
        if self.gateway is None:
            raise ServiceError("payment-unavailable", "no acquirer gateway to reverse through")
        rows = self.db.query("SELECT payment_id, stan, sent_ms FROM svc_payments WHERE booking_id = ? AND"
                             " terminal_id = ? AND amount_fen = ? AND outcome = ? ORDER BY created_ms",
                             (booking_id, terminal, amount, APPROVED))
        reversed_ = 0
        for payment_id, stan, sent_ms in rows:
            when = dt.datetime.fromtimestamp(int(sent_ms) / 1000, dt.UTC)
            if self.gateway.reverse_unsettled(stan, terminal, amount, when):
                self._record(payment_id, GatewayResult(NOT_CHARGED, None, "reversed: the kiosk never confirmed"
                                                       " this payment to the patient"))
                reversed_ += 1
            else:  # still charged: settle_unknown keeps trying
                self._record(payment_id, GatewayResult(NOT_CHARGED, None, "reversal of an unconfirmed payment"
                                                       " pending", reversal_pending=True))
            with self.db.write():  # not paid as far as she knows: the slot is free again
                self.db.execute("UPDATE svc_bookings SET status = ? WHERE booking_id = ? AND status = ?",
                                (RELEASED, booking_id, PAID))
        return reversed_

    def outcomes(self) -> list[tuple[str, str, str]]:
        """(payment id, booking id, outcome) of every attempt, oldest first (operator view, tests)."""
        return [(r[0], r[1], r[2]) for r in self.db.query(
            "SELECT payment_id, booking_id, outcome FROM svc_payments ORDER BY created_ms, payment_id")]
