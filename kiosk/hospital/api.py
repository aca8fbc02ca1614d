"""What the kiosk asks of the hospital (the hub acting as front-end processor, 前置机).

The kiosk's flows (kiosk/flows/) depend only on `HospitalServices`; `kiosk/hospital/client.py`
implements it over the link's request/response (mch_link), and tests hand the flows a fake.
Values crossing this boundary are frozen dataclasses; money is in fen (1/100 yuan), times
are timezone-aware datetimes or ISO dates, and a PAN never crosses it in clear except inside
the payment request, which goes to the hub sealed and is never stored.

Signing and unbinding need her PIN verified by the card's bank first (`verify_cardholder`, a
zero-amount account verification): its `ticket` is what `bind_card` / `unbind_card` take as
`verification`, and the hub refuses either without a live ticket for that patient and card.

Every call that changes something takes an `idempotency_key` (a fresh uuid4 hex per patient
action, reused on retry), so a retried request never registers, books or charges twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

from kiosk.idcard.identity import mask_id_number


class HospitalError(Exception):
    """The hub answered with an error the patient must be told about (`code` is stable)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class HospitalUnavailable(HospitalError):
    """No answer within the timeout (hub or network down). Nothing can be assumed done."""

    def __init__(self, message: str = "the hospital system did not answer") -> None:
        super().__init__("unavailable", message)


@dataclass(frozen=True, repr=False)
class Patient:
    patient_id: str
    name: str
    sex: str                      # GB/T 2261.1 code: "1" male, "2" female
    birth_date: dt.date
    masked_id_number: str         # e.g. 110105********123X
    outpatient_no: str
    medical_card_no: str | None = None
    has_pregnancy_record: bool = False

    def __repr__(self) -> str:  # keep her name out of logs and tracebacks
        return (f"Patient(patient_id={self.patient_id!r}, id_number={self.masked_id_number!r}, "
                f"has_pregnancy_record={self.has_pregnancy_record})")

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class NewPatient:
    id_number: str
    name: str
    sex: str
    birth_date: dt.date
    nation: str | None = None
    address: str | None = None
    phone: str | None = None

    def __repr__(self) -> str:  # name, ID number, address and phone never reach a log line
        return f"NewPatient(id_number={mask_id_number(self.id_number)!r})"

    __str__ = __repr__


@dataclass(frozen=True)
class PregnancyForm:
    """What the patient enters herself at registration (自助建档)."""

    patient_id: str
    lmp: dt.date                  # last menstrual period
    height_cm: float
    pre_pregnancy_weight_kg: float
    gravidity: int
    parity: int
    screening: dict[str, bool] = field(default_factory=dict)  # screening item id -> answer


@dataclass(frozen=True)
class PregnancyRecord:
    record_id: str
    patient_id: str
    lmp: dt.date
    edd: dt.date
    gestational_age_days: int
    bmi: float
    screen_positive: bool
    positive_items: tuple[str, ...] = ()


@dataclass(frozen=True)
class CardBinding:
    binding_id: str
    patient_id: str
    masked_pan: str               # first 6 / last 4 only
    bound_at: dt.datetime


@dataclass(frozen=True)
class Slot:
    slot_id: str
    visit_code: str               # the antenatal schedule's visit id
    clinic: str
    starts_at: dt.datetime
    fee_fen: int
    free: int


@dataclass(frozen=True)
class Booking:
    booking_id: str
    patient_id: str
    slot: Slot
    status: str                   # "held", "paid", "released"
    hold_until: dt.datetime
    fee_fen: int


@dataclass(frozen=True)
class PaymentRequest:
    booking_id: str
    amount_fen: int
    pan: str                      # from the chip; sealed to the hub, never stored or logged
    pan_sequence: str | None
    card_expiry: dt.date
    pin_block: bytes              # built inside the PIN pad under its PIN key
    terminal_id: str
    terminal_mac: bytes | None = None  # the PIN pad's MAC under the terminal MAC key (kiosk.flows.pin)


@dataclass(frozen=True)
class CardholderCheck:
    """Her PIN for this card, to be verified by the card's bank (nothing is charged)."""

    patient_id: str
    card_token: str               # the binding's token of this card (kiosk.flows.bankcard.card_token)
    pan: str                      # sealed to the hub, never stored or logged
    pan_sequence: str | None
    card_expiry: dt.date
    pin_block: bytes
    terminal_id: str
    terminal_mac: bytes | None = None
    binding_id: str | None = None  # unbinding: the card must be the one of this binding


@dataclass(frozen=True)
class PinVerification:
    outcome: str                  # "verified", "declined" (55 wrong PIN, 75 locked, ...), "unavailable"
    response_code: str | None
    reason: str
    ticket: str | None = None     # set only when verified


@dataclass(frozen=True)
class PaymentResult:
    payment_id: str
    outcome: str                  # "approved", "declined", "not-charged" (reversed or never sent)
    response_code: str | None
    reason: str
    auth_code: str | None = None
    amount_fen: int = 0


class HospitalServices(Protocol):
    """The hospital services a kiosk uses. Each call raises `HospitalUnavailable` on timeout
    and `HospitalError` on a refusal; none blocks longer than the client's timeout."""

    def find_patient(self, *, id_number: str | None = None, medical_card_no: str | None = None,
                     outpatient_no: str | None = None) -> Patient | None: ...

    def register_patient(self, patient: NewPatient, *, idempotency_key: str) -> Patient: ...

    def create_pregnancy_record(self, form: PregnancyForm, *, idempotency_key: str) -> PregnancyRecord: ...

    def verify_cardholder(self, check: CardholderCheck, *, idempotency_key: str) -> PinVerification: ...

    def bind_card(self, patient_id: str, *, card_token: str, masked_pan: str, verification: str,
                  idempotency_key: str) -> CardBinding: ...

    def unbind_card(self, patient_id: str, binding_id: str, *, verification: str, idempotency_key: str) -> None: ...

    def card_bindings(self, patient_id: str) -> list[CardBinding]: ...

    def recommended_visit(self, patient_id: str) -> str | None: ...

    def free_slots(self, visit_code: str, *, days: int = 14) -> list[Slot]: ...

    def hold_slot(self, patient_id: str, slot_id: str, *, idempotency_key: str) -> Booking: ...

    def release_booking(self, booking_id: str, *, idempotency_key: str) -> None: ...

    def pay(self, request: PaymentRequest, *, idempotency_key: str) -> PaymentResult: ...
