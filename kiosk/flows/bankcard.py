"""Card signing (签约) and unbinding (解约): the chip is read over PC/SC, its cardholder ID (tag
9F61) cross-checked with her ID card, and only a token (a MAC over the PAN made inside the PIN
pad) and the masked PAN go to the hub."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kiosk.bankcard.card_data import BankCardData
from kiosk.bankcard.errors import (
    CardExpiredError,
    CardRemovedError,
    NoCardError,
    StripeOnlyCardError,
)
from kiosk.errors import KioskDeviceError
from kiosk.flows.devices import BankCardSource, PinPadDevice
from kiosk.flows.messages import Notice
from kiosk.flows.pin import PinKeys
from kiosk.flows.session import Session
from kiosk.hospital.api import CardBinding, HospitalError, HospitalServices, HospitalUnavailable

CARD_WAIT_S = 30.0
TOKEN_PREFIX = "epp-mac1:"
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


def sign(services: HospitalServices, pad: PinPadDevice, session: Session, keys: PinKeys) -> CardOutcome:
    """Bind the card in the session to her record."""
    card, patient = session.bank_card, session.patient
    if card is None or patient is None:
        raise ValueError("sign needs a patient and a card read")
    mismatch = id_cross_check(card, session)
    if mismatch is not None:
        return CardOutcome(False, mismatch)
    try:
        binding = services.bind_card(patient.patient_id, card_token=card_token(pad, card, keys),
                                     masked_pan=card.masked_pan, idempotency_key=session.idempotency_key("bind"))
    except HospitalUnavailable:
        return CardOutcome(False, Notice("hub_down"))
    except HospitalError as exc:
        return CardOutcome(False, Notice("hub_refused", {"reason": exc.message}))
    except KioskDeviceError as exc:
        log.warning("sign: PIN pad could not make the card token: %s", exc.message)
        return CardOutcome(False, Notice("device_fault", {"device": "PIN pad"}))
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
        return Notice("hub_refused", {"reason": exc.message})
    return None if session.bindings else Notice("no_binding")


def unbind(services: HospitalServices, session: Session, binding_id: str) -> CardOutcome:
    if session.patient is None:
        raise ValueError("no patient")
    binding = next((b for b in session.bindings if b.binding_id == binding_id), None)
    if binding is None:
        return CardOutcome(False, Notice("no_binding"))
    try:
        services.unbind_card(session.patient.patient_id, binding_id,
                             idempotency_key=session.idempotency_key(f"unbind:{binding_id}"))
    except HospitalUnavailable:
        return CardOutcome(False, Notice("hub_down"))
    except HospitalError as exc:
        return CardOutcome(False, Notice("hub_refused", {"reason": exc.message}))
    session.bindings = [b for b in session.bindings if b.binding_id != binding_id]
    return CardOutcome(True, Notice("unbound", {"masked_pan": binding.masked_pan}), binding)
