"""Payment (缴费): amount from the hub's booking, bank card + PIN block made inside the pad,
authorised through the hub's gateway. The outcome the patient sees is never ambiguous:

- approved (amount, authorisation code),
- declined with the reason (wrong PIN -> try again while tries remain),
- not charged (the gateway reversed it, or nothing was sent),
- unconfirmed only when the hub stays silent, or says the charge is still being settled
  (`STILL_SETTLING`): the kiosk keeps asking with the same idempotency key (the hub answers a
  retry with the first outcome) for `CONFIRM_WITHIN_S`; if still not known, a `payment-void/1` record under that key goes into the durable outbox, and the hub turns
  it into a reversal of any approval she never saw. Only then is she told that any amount taken is
  returned (with the reference to show); without an outbox she is sent to the desk, promised nothing.

The receipt printer is checked first: no payment is taken when no receipt can be printed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.errors import KioskDeviceError
from kiosk.flows.devices import PinPadDevice, ReceiptSink
from kiosk.flows.messages import WRONG_PIN, Notice, hub_refused
from kiosk.flows.pin import PURCHASE, PinKeys, enter_pin, terminal_mac
from kiosk.flows.queue import RecordQueue, queue_void, void_body
from kiosk.flows.session import Session
from kiosk.hospital.api import (
    HospitalError,
    HospitalServices,
    HospitalUnavailable,
    PaymentRequest,
    PaymentResult,
)
from kiosk.receipt.layout import format_fen

HUB_RETRIES = 2          # same idempotency key: the hub answers a retry from its journal
CONFIRM_WITHIN_S = 60.0  # and keep asking (at least HUB_RETRIES times) this long before she is told
RETRY_PAUSE_S = 2.0
MAX_PIN_ATTEMPTS = 3
# Refusals that say nothing about the charge, like no answer at all: the hub still runs this request
# (dispatcher: `in-progress`), or an earlier attempt for the booking is still being settled (payments:
# `payment-in-progress`). The acquirer may yet approve: never "refused", only asked again, then voided.
STILL_SETTLING = frozenset({"in-progress", "payment-in-progress"})
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Paid:
    outcome: str                  # "approved", "declined", "not-charged", "unconfirmed", "refused"
    notice: Notice
    result: PaymentResult | None = None
    retry_pin: bool = False       # wrong PIN with tries left: ask again


def printer_ready(printer: ReceiptSink | None) -> bool:
    if printer is None:
        return False
    try:
        return printer.status().can_print
    except KioskDeviceError as exc:
        log.warning("payment: receipt printer status failed: %s", exc.message)
        return False


def pay(services: HospitalServices, pad: PinPadDevice, printer: ReceiptSink | None, session: Session,
        keys: PinKeys, terminal_id: str, *, attempt: int = 1, on_digits: Callable[[int], None] = lambda n: None,
        aborted: Callable[[], bool] = lambda: False, queue: RecordQueue | None = None,
        confirm_within_s: float = CONFIRM_WITHIN_S, retry_pause_s: float = RETRY_PAUSE_S,
        clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
        waiting: Callable[[], None] = lambda: None) -> Paid:
    """One attempt: PIN on the pad, then the hub. `attempt` counts wrong PINs already tried + 1;
    `queue` is the outbox the void of an unanswered payment goes to; `waiting` is called before each
    retry (the app holds off its idle wipe: she must hear how it ended)."""
    booking, card = session.booking, session.bank_card
    if booking is None or card is None:
        raise ValueError("pay needs a held booking and a card read")
    if not printer_ready(printer):
        return Paid("refused", Notice("printer_out_before_pay"))
    pin = enter_pin(pad, card.pan, keys, on_digits=on_digits, aborted=aborted)
    if pin.pin_block is None:
        return Paid("not-charged", pin.notice or Notice("pin_cancelled"))
    try:  # the pad signs what the bank will see, so nobody between can change the amount
        mac = terminal_mac(pad, keys, PURCHASE, booking.fee_fen, card.pan, f"{card.expiry:%y%m}", pin.pin_block,
                           terminal_id)
    except KioskDeviceError as exc:
        log.warning("payment: PIN pad could not MAC the request: %s", exc.message)
        return Paid("not-charged", Notice("device_fault", {"devices": "pinpad"}))
    request = PaymentRequest(booking_id=booking.booking_id, amount_fen=booking.fee_fen, pan=card.pan,
                             pan_sequence=None if card.pan_sequence is None else f"{card.pan_sequence:02d}",
                             card_expiry=card.expiry, pin_block=pin.pin_block, terminal_id=terminal_id,
                             terminal_mac=mac)
    key = session.new_attempt("pay")  # a new PIN block is a new request; its retries share the key
    result, tries, deadline = None, 0, clock() + confirm_within_s
    while result is None:
        tries += 1
        try:
            result = services.pay(request, idempotency_key=key)
        except HospitalError as exc:
            if not isinstance(exc, HospitalUnavailable) and exc.code not in STILL_SETTLING:
                return Paid("not-charged", hub_refused(exc.code))
            if tries > HUB_RETRIES and clock() >= deadline:
                break
            log.warning("payment: outcome not known yet (%s); asking again with the same idempotency key", exc.code)
            waiting()
            sleep(retry_pause_s)
    if result is None:
        ref = key[:12].upper()
        if queue_void(queue, void_body(key, booking.booking_id, booking.fee_fen, terminal_id)):
            return Paid("unconfirmed", Notice("payment_unconfirmed", {"ref": ref}))
        return Paid("unconfirmed", Notice("payment_unknown", {"ref": ref}))
    session.payment = result
    return _outcome(result, attempt)


def _outcome(result: PaymentResult, attempt: int) -> Paid:
    amount = format_fen(result.amount_fen)
    if result.outcome == "approved":
        return Paid("approved", Notice("paid", {"amount": amount, "auth_code": result.auth_code or "-"}), result)
    if result.outcome == "declined":
        code = result.response_code or ""
        left = MAX_PIN_ATTEMPTS - attempt
        if code == WRONG_PIN and left > 0:
            return Paid("declined", Notice("pin_tries_left", {"left": str(left)}), result, retry_pin=True)
        return Paid("declined", Notice("declined", {"response_code": code, "reason": result.reason}), result)
    if result.outcome == "not-charged":
        return Paid("not-charged", Notice("not_charged"), result)
    log.error("payment: unknown outcome %r from the hub", result.outcome)
    return Paid("unconfirmed", Notice("payment_unconfirmed", {"ref": result.payment_id[:12]}), result)

