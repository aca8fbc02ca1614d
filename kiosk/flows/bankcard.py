"""Card signing (签约) and unbinding (解约): the chip is read over PC/SC, its cardholder ID (tag
9F61) cross-checked with her ID card, her PIN verified by the card's bank (a zero-amount account
verification through the hub: wrong PIN, lockout by the issuer, timeout each change nothing), and
only a token (a MAC over the PAN made inside the PIN pad) and the masked PAN go to the hub."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.bankcard.card_data import BankCardData
from kiosk.bankcard.errors import (
    CardExpiredError,
    CardRemovedError,
    NoCardError,
    PcscUnavailableError,
    StripeOnlyCardError,
)
from kiosk.errors import KioskDeviceError
from kiosk.flows.devices import BankCardSource, PinPadDevice
from kiosk.flows.messages import PIN_TRIES_EXCEEDED, WRONG_PIN, Notice, hub_refused
from kiosk.flows.pin import ACCOUNT_VERIFICATION, PIN_TIMEOUT_S, PinKeys, enter_pin, terminal_mac
from kiosk.flows.session import Session
from kiosk.hospital.api import (
    CardBinding,
    CardholderCheck,
    HospitalError,
    HospitalServices,
    HospitalUnavailable,
)

CARD_WAIT_S = 30.0
TOKEN_PREFIX = "epp-mac1:"
MAX_HOLDER_ATTEMPTS = 3  # per visit; the issuer keeps its own count and locks the card (75)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CardOutcome:
    ok: bool
    notice: Notice
    binding: CardBinding | None = None


def read_bank_card(reader: BankCardSource, session: Session, timeout_s: float = CARD_WAIT_S) -> Notice | None:
    """Read the chip into the session; a `Notice` says why not (nothing else is changed)."""
    try:
        session.bank_card = reader.read_card(timeout_s)
    except CardExpiredError:
        return Notice("card_expired")
    except StripeOnlyCardError:
        return Notice("card_stripe_only")
    except CardRemovedError:
        return Notice("card_removed")
    except NoCardError:
        return Notice("card_timeout")
    except PcscUnavailableError as exc:
        log.warning("bank card reader unavailable: %s", exc.message)
        return Notice("device_fault", {"devices": "bankcard"})
    except KioskDeviceError as exc:
        log.warning("bank card read failed: %s", exc.message)
        return Notice("card_read_failed")
    return None


def id_cross_check(card: BankCardData, session: Session) -> Notice | None:
    """Refuse a card whose 9F61 names another person; a card without 9F61 passes."""
    if session.identity is None:
        return None
    if card.matches_id_number(session.identity.id_number) is False:
        return Notice("card_id_mismatch")
    return None


def card_token(pad: PinPadDevice, card: BankCardData, keys: PinKeys) -> str:
    """Same card -> same token on every kiosk sharing the MAC work key; the PAN is not recoverable."""
    return TOKEN_PREFIX + pad.mac(keys.mac_slot, card.pan.encode("ascii")).hex()


@dataclass(frozen=True)
class Verified:
    """The holder check: `ticket` when her bank verified the PIN; otherwise what she is told."""

    ticket: str | None
    notice: Notice | None = None
    retry_pin: bool = False        # wrong PIN with tries left: ask again


def verify_holder(services: HospitalServices, pad: PinPadDevice, session: Session, keys: PinKeys, terminal_id: str,
                  *, binding_id: str | None = None, attempt: int = 1, on_digits: Callable[[int], None] = lambda n: None,
                  aborted: Callable[[], bool] = lambda: False, timeout_s: int = PIN_TIMEOUT_S) -> Verified:
    """One PIN entry on the pad and its verification by the card's bank (nothing is charged)."""
    card, patient = session.bank_card, session.patient
    if card is None or patient is None:
        raise ValueError("verify_holder needs a patient and a card read")
    pin = enter_pin(pad, card.pan, keys, on_digits=on_digits, aborted=aborted, timeout_s=timeout_s)
    if pin.pin_block is None:
        timed_out = pin.notice is not None and pin.notice.code == "pin_timeout"
        return Verified(None, Notice("holder_pin_timeout" if timed_out else "holder_pin_cancelled"))
    try:
        token = card_token(pad, card, keys)
        mac = terminal_mac(pad, keys, ACCOUNT_VERIFICATION, 0, card.pan, f"{card.expiry:%y%m}", pin.pin_block,
                           terminal_id)
    except KioskDeviceError as exc:
        log.warning("holder check: PIN pad could not MAC: %s", exc.message)
        return Verified(None, Notice("device_fault", {"devices": "pinpad"}))
    check = CardholderCheck(patient.patient_id, token, card.pan,
                            None if card.pan_sequence is None else f"{card.pan_sequence:02d}", card.expiry,
                            pin.pin_block, terminal_id, mac, binding_id)
    try:
        result = services.verify_cardholder(check, idempotency_key=session.new_attempt("verify"))
    except HospitalUnavailable:
        return Verified(None, Notice("hub_down"))
    except HospitalError as exc:
        if exc.code == "card-mismatch":
            return Verified(None, Notice("card_not_this_binding"))
        return Verified(None, hub_refused(exc.code))
    if result.outcome == "verified" and result.ticket:
        return Verified(result.ticket)
    if result.outcome == "unavailable":
        return Verified(None, Notice("holder_unavailable"))
    left = MAX_HOLDER_ATTEMPTS - attempt
    if result.response_code == WRONG_PIN and left > 0:
        return Verified(None, Notice("pin_tries_left", {"left": str(left)}), retry_pin=True)
    if result.response_code == PIN_TRIES_EXCEEDED:
        return Verified(None, Notice("holder_locked"))
    return Verified(None, Notice("holder_declined", {"response_code": result.response_code or "",
                                                     "reason": result.reason}))


def sign(services: HospitalServices, pad: PinPadDevice, session: Session, keys: PinKeys,
         verification: str) -> CardOutcome:
    """Bind the card in the session to her record (`verification`: the ticket of `verify_holder`)."""
    card, patient = session.bank_card, session.patient
    if card is None or patient is None:
        raise ValueError("sign needs a patient and a card read")
    mismatch = id_cross_check(card, session)
    if mismatch is not None:
        return CardOutcome(False, mismatch)
    try:  # a key per ticket: a retry of this request keeps it; signing again (a new PIN, a new ticket) is new
        binding = services.bind_card(patient.patient_id, card_token=card_token(pad, card, keys),
                                     masked_pan=card.masked_pan, verification=verification,
                                     idempotency_key=session.idempotency_key(f"bind:{verification}"))
    except HospitalUnavailable:
        return CardOutcome(False, Notice("hub_down"))
    except HospitalError as exc:
        return CardOutcome(False, hub_refused(exc.code))
    except KioskDeviceError as exc:
        log.warning("sign: PIN pad could not make the card token: %s", exc.message)
        return CardOutcome(False, Notice("device_fault", {"devices": "pinpad"}))
    session.bindings = [b for b in session.bindings if b.binding_id != binding.binding_id] + [binding]
    return CardOutcome(True, Notice("signed", {"masked_pan": binding.masked_pan}), binding)


def load_bindings(services: HospitalServices, session: Session) -> Notice | None:
    if session.patient is None:
        raise ValueError("no patient")
    try:
        session.bindings = services.card_bindings(session.patient.patient_id)
    except HospitalUnavailable:
        return Notice("hub_down")
    except HospitalError as exc:
        return hub_refused(exc.code)
    return None if session.bindings else Notice("no_binding")


def unbind(services: HospitalServices, session: Session, binding_id: str, verification: str) -> CardOutcome:
    """Unbind (`verification`: the ticket of `verify_holder` for the card of this binding)."""
    if session.patient is None:
        raise ValueError("no patient")
    binding = next((b for b in session.bindings if b.binding_id == binding_id), None)
    if binding is None:
        return CardOutcome(False, Notice("no_binding"))
    try:  # a key per binding and ticket, as for signing
        services.unbind_card(session.patient.patient_id, binding_id, verification=verification,
                             idempotency_key=session.idempotency_key(f"unbind:{binding_id}:{verification}"))
    except HospitalUnavailable:
        return CardOutcome(False, Notice("hub_down"))
    except HospitalError as exc:
        return CardOutcome(False, hub_refused(exc.code))
    session.bindings = [b for b in session.bindings if b.binding_id != binding_id]
    return CardOutcome(True, Notice("unbound", {"masked_pan": binding.masked_pan}), binding)
