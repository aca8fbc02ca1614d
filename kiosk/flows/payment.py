"""Payment (缴费): amount from the hub's booking, bank card + PIN block made inside the pad,
authorised through the hub's gateway. The outcome the patient sees is never ambiguous:

- approved (amount, authorisation code),
- declined with the reason (wrong PIN -> try again while tries remain),
- not charged (the gateway reversed it, or nothing was sent),
- unconfirmed only when the hub itself stays silent after retries with the same idempotency key;
  she is then told that any amount taken is returned and given the reference to show.

The receipt printer is checked first: no payment is taken when no receipt can be printed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.errors import KioskDeviceError
from kiosk.flows.devices import PinPadDevice, ReceiptSink
from kiosk.flows.messages import WRONG_PIN, Notice
from kiosk.flows.pin import PURCHASE, PinKeys, enter_pin, terminal_mac
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
MAX_PIN_ATTEMPTS = 3
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
        aborted: Callable[[], bool] = lambda: False) -> Paid:
    """One attempt: PIN on the pad, then the hub. `attempt` counts wrong PINs already tried + 1."""
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
        return Paid("not-charged", Notice("device_fault", {"device": "PIN pad"}))
    request = PaymentRequest(booking_id=booking.booking_id, amount_fen=booking.fee_fen, pan=card.pan,
                             pan_sequence=None if card.pan_sequence is None else f"{card.pan_sequence:02d}",
                             card_expiry=card.expiry, pin_block=pin.pin_block, terminal_id=terminal_id,
                             terminal_mac=mac)
    key = session.new_attempt("pay")  # a new PIN block is a new request; its retries share the key
    result = None
    for _ in range(1 + HUB_RETRIES):
        try:
            result = services.pay(request, idempotency_key=key)
            break
        except HospitalUnavailable:
            log.warning("payment: hub did not answer; retrying with the same idempotency key")
        except HospitalError as exc:
            return Paid("not-charged", Notice("hub_refused", {"reason": exc.message}))
    if result is None:
        return Paid("unconfirmed", Notice("payment_unconfirmed", {"ref": key[:12].upper()}))
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

