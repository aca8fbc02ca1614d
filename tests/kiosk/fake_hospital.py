"""An in-memory `HospitalServices` for flow and UI tests: holds slots (free counts go down and up),
answers retries with the same idempotency key from its journal exactly as the hub's dispatcher does
(the first answer under a key, a refusal too, is kept; the same key with another request is refused
`idempotency-conflict`), and can be told to decline,
time out (as the gateway would: reversed -> not charged) or be unreachable. Cardholder checks
count wrong PINs per card and lock it at the third, as an issuer would; binding and unbinding
need a ticket of a verification for that card."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from kiosk.flows import pregnancy as preg
from kiosk.hospital.api import (
    Booking,
    CardBinding,
    CardholderCheck,
    HospitalError,
    HospitalUnavailable,
    NewPatient,
    Patient,
    PaymentRequest,
    PaymentResult,
    PinVerification,
    PregnancyForm,
    PregnancyRecord,
    Slot,
)
from kiosk.idcard.identity import mask_id_number

T = TypeVar("T")
CST = dt.timezone(dt.timedelta(hours=8))
HOLD_MINUTES = 15
FEE_FEN = 2500


@dataclass
class FakeHospital:
    today: dt.date = dt.date(2026, 12, 3)
    unreachable: bool = False
    pay_mode: str = "approve"            # approve | decline:<code> | timeout
    verify_mode: str = "answer"          # answer | unavailable (the acquirer did not answer the 0100)
    max_pin_tries: int = 3
    correct_pin_blocks: set[bytes] = field(default_factory=set)  # empty: any PIN block is right
    patients: dict[str, Patient] = field(default_factory=dict)
    id_index: dict[str, str] = field(default_factory=dict)
    records: dict[str, PregnancyRecord] = field(default_factory=dict)
    bindings: dict[str, CardBinding] = field(default_factory=dict)
    slots: dict[str, Slot] = field(default_factory=dict)
    bookings: dict[str, Booking] = field(default_factory=dict)
    settling: set[str] = field(default_factory=set)  # booking ids with an earlier payment not yet settled
    payments: list[PaymentRequest] = field(default_factory=list)   # what reached the "acquirer"
    charged_fen: int = 0
    calls: list[str] = field(default_factory=list)
    pay_keys: list[str] = field(default_factory=list)
    verifications: list[CardholderCheck] = field(default_factory=list)  # what reached the "acquirer"
    pin_failures: dict[str, int] = field(default_factory=dict)          # PAN -> wrong PINs in a row
    tickets: dict[str, str] = field(default_factory=dict)               # ticket -> card token
    binding_tokens: dict[str, str] = field(default_factory=dict)        # binding id -> card token
    _journal: dict[str, tuple[str, Any, tuple[bool, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for day in range(1, 4):
            for hour in (9, 14):
                starts = dt.datetime.combine(self.today + dt.timedelta(days=day), dt.time(hour), CST)
                sid = f"S{day}{hour:02d}"
                self.slots[sid] = Slot(sid, "ANC2", "产科门诊 3 诊室", starts, FEE_FEN, 2)

    # -- helpers for tests ------------------------------------------------------------------
    def add_patient(self, id_number: str, name: str, birth: dt.date, *, record: bool = False) -> Patient:
        patient = Patient(f"P{len(self.patients) + 1:04d}", name, "2", birth, mask_id_number(id_number),
                          f"{len(self.patients) + 100001}", f"8800{len(self.patients) + 1:06d}", record)
        self.patients[patient.patient_id] = patient
        self.id_index[id_number] = patient.patient_id
        return patient

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.unreachable:
            raise HospitalUnavailable()

    def _once(self, key: str, op: str, args: Any, make: Callable[[], T]) -> T:
        """central_hub/services/dispatcher.py `_idempotent`: the first request under `key` runs and its
        answer is kept, a refusal (`HospitalError`) too; the same key, operation and arguments get it again;
        the same key for anything else is refused. Unexpected errors keep nothing (a retry runs again)."""
        with self._lock:
            kept = self._journal.get(key)
            if kept is None:
                try:
                    answer: tuple[bool, Any] = (True, make())
                except HospitalUnavailable:
                    raise
                except HospitalError as exc:
                    answer = (False, (exc.code, exc.message))
                kept = self._journal[key] = (op, args, answer)
            elif (kept[0], kept[1]) != (op, args):
                raise HospitalError("idempotency-conflict", "this key was used for another request")
        ok, value = kept[2]
        if not ok:
            raise HospitalError(*value)
        return value  # type: ignore[no-any-return]

    # -- HospitalServices --------------------------------------------------------------------
    def find_patient(self, *, id_number: str | None = None, medical_card_no: str | None = None,
                     outpatient_no: str | None = None) -> Patient | None:
        self._call("find_patient")
        if id_number is not None:
            pid = self.id_index.get(id_number)
            return self.patients.get(pid) if pid else None
        for p in self.patients.values():
            if medical_card_no and p.medical_card_no == medical_card_no or outpatient_no and p.outpatient_no == outpatient_no:
                return p
        return None

    def register_patient(self, patient: NewPatient, *, idempotency_key: str) -> Patient:
        self._call("register_patient")

        def make() -> Patient:
            if patient.id_number in self.id_index:
                return self.patients[self.id_index[patient.id_number]]
            return self.add_patient(patient.id_number, patient.name, patient.birth_date)
        return self._once(idempotency_key, "register", patient, make)

    def create_pregnancy_record(self, form: PregnancyForm, *, idempotency_key: str) -> PregnancyRecord:
        self._call("create_pregnancy_record")

        def make() -> PregnancyRecord:
            if form.patient_id not in self.patients:
                raise HospitalError("unknown-patient", "no such patient")
            positive = tuple(k for k, v in form.screening.items() if v)
            record = PregnancyRecord(f"R{len(self.records) + 1:04d}", form.patient_id, form.lmp, preg.edd(form.lmp),
                                     preg.gestational_age_days(form.lmp, self.today),
                                     preg.bmi(form.height_cm, form.pre_pregnancy_weight_kg), bool(positive), positive)
            self.records[record.record_id] = record
            self.patients[form.patient_id] = replace(self.patients[form.patient_id], has_pregnancy_record=True)
            return record
        return self._once(idempotency_key, "record", form, make)

    def verify_cardholder(self, check: CardholderCheck, *, idempotency_key: str) -> PinVerification:
        self._call("verify_cardholder")

        def make() -> PinVerification:
            if check.binding_id is not None and self.binding_tokens.get(check.binding_id) != check.card_token:
                raise HospitalError("card-mismatch", "this is not the card of that binding")
            self.verifications.append(check)
            if self.verify_mode == "unavailable":
                return PinVerification("unavailable", None, "the bank did not answer")
            failures = self.pin_failures.get(check.pan, 0)
            if failures >= self.max_pin_tries:
                return PinVerification("declined", "75", "PIN tries exceeded")
            if self.correct_pin_blocks and check.pin_block not in self.correct_pin_blocks:
                self.pin_failures[check.pan] = failures + 1
                code = "75" if failures + 1 >= self.max_pin_tries else "55"
                return PinVerification("declined", code, "wrong PIN")
            self.pin_failures[check.pan] = 0
            ticket = uuid.uuid4().hex
            self.tickets[ticket] = check.card_token
            return PinVerification("verified", "00", "verified", ticket)
        return self._once(idempotency_key, "verify", check, make)

    def _require(self, ticket: str, card_token: str) -> None:
        if self.tickets.get(ticket) != card_token:
            raise HospitalError("not-verified", "the cardholder's PIN was not verified for this card")

    def bind_card(self, patient_id: str, *, card_token: str, masked_pan: str, verification: str,
                  idempotency_key: str) -> CardBinding:
        self._call("bind_card")

        def make() -> CardBinding:
            if "*" not in masked_pan:
                raise HospitalError("pan-in-clear", "only a masked PAN is accepted")
            self._require(verification, card_token)
            for b in self.bindings.values():
                if b.patient_id == patient_id and b.masked_pan == masked_pan:
                    return b
            binding = CardBinding(uuid.uuid4().hex, patient_id, masked_pan, dt.datetime.now(CST))
            self.bindings[binding.binding_id] = binding
            self.binding_tokens[binding.binding_id] = card_token
            return binding
        return self._once(idempotency_key, "bind", (patient_id, card_token, masked_pan, verification), make)

    def unbind_card(self, patient_id: str, binding_id: str, *, verification: str, idempotency_key: str) -> None:
        self._call("unbind_card")

        def make() -> None:
            if binding_id not in self.bindings:
                raise HospitalError("unknown-binding", "no such card binding for this patient")
            self._require(verification, self.binding_tokens.get(binding_id, ""))
            self.bindings.pop(binding_id)
        self._once(idempotency_key, "unbind", (patient_id, binding_id, verification), make)

    def card_bindings(self, patient_id: str) -> list[CardBinding]:
        self._call("card_bindings")
        return [b for b in self.bindings.values() if b.patient_id == patient_id]

    def recommended_visit(self, patient_id: str) -> str | None:
        self._call("recommended_visit")
        return "ANC2"

    def free_slots(self, visit_code: str, *, days: int = 14) -> list[Slot]:
        self._call("free_slots")
        return [s for s in self.slots.values() if s.visit_code == visit_code and s.free > 0]

    def hold_slot(self, patient_id: str, slot_id: str, *, idempotency_key: str) -> Booking:
        self._call("hold_slot")

        def make() -> Booking:
            if slot_id not in self.slots:
                raise HospitalError("unknown-slot", "no such slot")
            slot = self.slots[slot_id]
            if slot.free <= 0:
                raise HospitalError("slot-full", "slot taken")
            if any(b.patient_id == patient_id and b.slot.slot_id == slot_id and b.status in ("held", "paid")
                   for b in self.bookings.values()):
                raise HospitalError("already-booked", "you already have this slot")
            self.slots[slot_id] = replace(slot, free=slot.free - 1)
            booking = Booking(uuid.uuid4().hex, patient_id, slot, "held",
                              dt.datetime.now(CST) + dt.timedelta(minutes=HOLD_MINUTES), slot.fee_fen)
            self.bookings[booking.booking_id] = booking
            return booking
        return self._once(idempotency_key, "hold", (patient_id, slot_id), make)

    def release_booking(self, booking_id: str, *, idempotency_key: str) -> None:
        self._call("release_booking")

        def make() -> None:
            booking = self.bookings.get(booking_id)
            if booking is None:
                raise HospitalError("unknown-booking", "no such booking")
            if booking.status == "paid":
                raise HospitalError("already-paid", "a paid booking is cancelled at the desk (refund)")
            if booking.status == "held":
                self.bookings[booking_id] = replace(booking, status="released")
                slot = self.slots[booking.slot.slot_id]
                self.slots[slot.slot_id] = replace(slot, free=slot.free + 1)
        self._once(idempotency_key, "release", booking_id, make)

    def pay(self, request: PaymentRequest, *, idempotency_key: str) -> PaymentResult:
        self.pay_keys.append(idempotency_key)
        self._call("pay")

        def make() -> PaymentResult:
            booking = self.bookings[request.booking_id]
            if request.amount_fen != booking.fee_fen:
                raise HospitalError("amount", "amount does not match the fee")
            if booking.booking_id in self.settling:  # the hub's Payments.pay: another attempt still pending
                raise HospitalError("payment-in-progress", "this booking is paid or a payment for it is being settled")
            self.payments.append(request)
            pid = uuid.uuid4().hex[:16]
            if self.pay_mode == "timeout":
                return PaymentResult(pid, "not-charged", None, "acquirer timeout, reversed", None, request.amount_fen)
            if self.pay_mode.startswith("decline:"):
                code = self.pay_mode.split(":", 1)[1]
                return PaymentResult(pid, "declined", code, "declined", None, request.amount_fen)
            if self.correct_pin_blocks and request.pin_block not in self.correct_pin_blocks:
                return PaymentResult(pid, "declined", "55", "wrong PIN", None, request.amount_fen)
            self.charged_fen += request.amount_fen
            self.bookings[booking.booking_id] = replace(booking, status="paid")
            return PaymentResult(pid, "approved", "00", "approved", "A1B2C3", request.amount_fen)
        return self._once(idempotency_key, "pay", request, make)
