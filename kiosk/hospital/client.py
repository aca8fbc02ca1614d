"""`HospitalServices` over the link: each call is one sealed request to the hub (mch_link.rpc).

A timeout raises `HospitalUnavailable` (nothing can be assumed done: retry with the same
idempotency key), a refusal `HospitalError` with the hub's stable code. What must not be lost
(a new pregnancy record, a card binding, a payment result) is also committed to the device's
outbox as a record once the hub has answered, so it reaches the hub's record store even if
the session ends right after.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any, Protocol

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
from mch_link.device import DeviceLink
from mch_link.errors import LinkError
from mch_link.renewal import runner_for
from mch_link.rpc import RpcClient, RpcRefused, RpcTimeout
from mch_link.topics import Kind

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 2.0
PAYMENT_TIMEOUT_S = 20.0  # the hub's own limit (answer + reversal attempts) is below this
PREGNANCY_RECORD_SCHEMA = "pregnancy-record/1"
CARD_BINDING_SCHEMA = "card-binding/1"
PAYMENT_RESULT_SCHEMA = "payment-result/1"
KEPT_MAX = 1000


class RecordSink(Protocol):
    """The device's outbox (mch_link.device.DeviceLink.submit)."""

    def submit(self, kind: Kind, schema: str, body: dict[str, Any], made_at_ms: int | None = None) -> int: ...


class HubHospitalClient:
    """Reach the hub with `connect(bundle)`: the device bundle (certificate, link keys, broker
    address) is all the configuration the request/response link needs."""

    @classmethod
    def connect(cls, bundle: Path, outbox: Path | None = None, broker: tuple[str, int] | None = None,
                **kwargs: Any) -> tuple[HubHospitalClient, DeviceLink]:
        """A started DeviceLink from the kiosk's bundle (its outbox too) and a client over it; the caller
        stops the link when the app ends."""
        link = DeviceLink.from_bundle(bundle, outbox, broker)
        client = cls(RpcClient(link, link.config.device_id, link.keys), link, **kwargs)
        link.on_command = runner_for(link, bundle, client.rpc).on_command  # the hub's `renew` command
        link.start()
        return client, link

    def __init__(self, rpc: RpcClient, records: RecordSink | None = None, *, timeout_s: float = CALL_TIMEOUT_S,
                 payment_timeout_s: float = PAYMENT_TIMEOUT_S) -> None:
        self.rpc, self.records = rpc, records
        self.timeout_s, self.payment_timeout_s = timeout_s, payment_timeout_s
        self._kept: set[str] = set()  # a retried call answered again is not kept twice

    # -- plumbing -----------------------------------------------------------------------
    def _call(self, method: str, args: dict[str, Any], idem: str | None = None, timeout_s: float | None = None) -> Any:
        try:
            return self.rpc.call(method, args, idempotency_key=idem, timeout_s=timeout_s or self.timeout_s)
        except RpcTimeout:
            raise HospitalUnavailable() from None
        except RpcRefused as exc:
            raise HospitalError(exc.code, exc.message) from None
        except LinkError as exc:  # e.g. arguments the request schema refuses
            raise HospitalError("link-error", str(exc)) from None

    def _keep(self, schema: str, body: dict[str, Any]) -> None:
        once = f"{schema}:{body.get('event', '')}:{body.get('record_id') or body.get('binding_id') or body.get('payment_id')}"
        if self.records is None or once in self._kept:
            return
        try:
            self.records.submit(Kind.RECORDS, schema, body)
            if len(self._kept) > KEPT_MAX:
                self._kept.clear()
            self._kept.add(once)
        except LinkError as exc:  # the hub already has it through the request; say so, carry on
            log.error("could not keep a %s record in the outbox: %s", schema, exc.__class__.__name__)

    # -- HospitalServices ---------------------------------------------------------------
    def find_patient(self, *, id_number: str | None = None, medical_card_no: str | None = None,
                     outpatient_no: str | None = None) -> Patient | None:
        given = {k: v for k, v in (("id_number", id_number), ("medical_card_no", medical_card_no),
                                   ("outpatient_no", outpatient_no)) if v is not None}
        found = self._call("patient.find", given)
        return None if found is None else _patient(found)

    def register_patient(self, patient: NewPatient, *, idempotency_key: str) -> Patient:
        args = {"id_number": patient.id_number, "name": patient.name, "sex": patient.sex,
                "birth_date": patient.birth_date.isoformat(), "nation": patient.nation, "address": patient.address,
                "phone": patient.phone}
        return _patient(self._call("patient.register", args, idempotency_key))

    def create_pregnancy_record(self, form: PregnancyForm, *, idempotency_key: str) -> PregnancyRecord:
        args = {"patient_id": form.patient_id, "lmp": form.lmp.isoformat(), "height_cm": form.height_cm,
                "pre_pregnancy_weight_kg": form.pre_pregnancy_weight_kg, "gravidity": form.gravidity,
                "parity": form.parity, "screening": dict(form.screening)}
        r = self._call("pregnancy.create", args, idempotency_key)
        self._keep(PREGNANCY_RECORD_SCHEMA, r)
        return PregnancyRecord(r["record_id"], r["patient_id"], dt.date.fromisoformat(r["lmp"]),
                               dt.date.fromisoformat(r["edd"]), r["gestational_age_days"], r["bmi"],
                               r["screen_positive"], tuple(r["positive_items"]))

    def verify_cardholder(self, check: CardholderCheck, *, idempotency_key: str) -> PinVerification:
        args = {"patient_id": check.patient_id, "card_token": check.card_token, "pan": check.pan,
                "pan_sequence": check.pan_sequence, "card_expiry": check.card_expiry.isoformat(),
                "pin_block": check.pin_block.hex().upper(), "terminal_id": check.terminal_id,
                "terminal_mac": None if check.terminal_mac is None else check.terminal_mac.hex().upper(),
                "binding_id": check.binding_id}
        r = self._call("card.verify_pin", args, idempotency_key, self.payment_timeout_s)
        return PinVerification(r["outcome"], r["response_code"], r["reason"], r["ticket"])

    def bind_card(self, patient_id: str, *, card_token: str, masked_pan: str, verification: str,
                  idempotency_key: str) -> CardBinding:
        b = self._call("card.bind", {"patient_id": patient_id, "card_token": card_token, "masked_pan": masked_pan,
                                     "verification": verification}, idempotency_key)
        self._keep(CARD_BINDING_SCHEMA, {"event": "bound", "binding_id": b["binding_id"], "patient_id": patient_id,
                                         "masked_pan": b["masked_pan"]})
        return _binding(b)

    def unbind_card(self, patient_id: str, binding_id: str, *, verification: str, idempotency_key: str) -> None:
        self._call("card.unbind", {"patient_id": patient_id, "binding_id": binding_id, "verification": verification},
                   idempotency_key)
        self._keep(CARD_BINDING_SCHEMA, {"event": "unbound", "binding_id": binding_id, "patient_id": patient_id})

    def card_bindings(self, patient_id: str) -> list[CardBinding]:
        return [_binding(b) for b in self._call("card.list", {"patient_id": patient_id})]

    def recommended_visit(self, patient_id: str) -> str | None:
        code = self._call("schedule.recommended", {"patient_id": patient_id})
        return None if code is None else str(code)

    def free_slots(self, visit_code: str, *, days: int = 14) -> list[Slot]:
        return [_slot(s) for s in self._call("schedule.free_slots", {"visit_code": visit_code, "days": days})]

    def hold_slot(self, patient_id: str, slot_id: str, *, idempotency_key: str) -> Booking:
        return _booking(self._call("booking.hold", {"patient_id": patient_id, "slot_id": slot_id}, idempotency_key))

    def release_booking(self, booking_id: str, *, idempotency_key: str) -> None:
        self._call("booking.release", {"booking_id": booking_id}, idempotency_key)

    def pay(self, request: PaymentRequest, *, idempotency_key: str) -> PaymentResult:
        args = {"booking_id": request.booking_id, "amount_fen": request.amount_fen, "pan": request.pan,
                "pan_sequence": request.pan_sequence, "card_expiry": request.card_expiry.isoformat(),
                "pin_block": request.pin_block.hex().upper(), "terminal_id": request.terminal_id,
                "terminal_mac": None if request.terminal_mac is None else request.terminal_mac.hex().upper()}
        r = self._call("payment.pay", args, idempotency_key, self.payment_timeout_s)
        self._keep(PAYMENT_RESULT_SCHEMA, {k: r[k] for k in ("payment_id", "outcome", "response_code", "auth_code",
                                                             "amount_fen")} | {"booking_id": request.booking_id})
        return PaymentResult(r["payment_id"], r["outcome"], r["response_code"], r["reason"], r["auth_code"],
                             r["amount_fen"])


def _patient(p: dict[str, Any]) -> Patient:
    return Patient(p["patient_id"], p["name"], p["sex"], dt.date.fromisoformat(p["birth_date"]),
                   p["masked_id_number"], p["outpatient_no"], p["medical_card_no"], p["has_pregnancy_record"])


def _binding(b: dict[str, Any]) -> CardBinding:
    return CardBinding(b["binding_id"], b["patient_id"], b["masked_pan"], dt.datetime.fromisoformat(b["bound_at"]))


def _slot(s: dict[str, Any]) -> Slot:
    return Slot(s["slot_id"], s["visit_code"], s["clinic"], dt.datetime.fromisoformat(s["starts_at"]), s["fee_fen"],
                s["free"])


def _booking(b: dict[str, Any]) -> Booking:
    return Booking(b["booking_id"], b["patient_id"], _slot(b["slot"]), b["status"],
                   dt.datetime.fromisoformat(b["hold_until"]), b["fee_fen"])
