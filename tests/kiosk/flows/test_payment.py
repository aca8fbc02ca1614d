"""Payment through the real PIN-pad driver and simulator (the customer's keys pressed on it)."""

from __future__ import annotations

import random

import pytest

from kiosk.app import demo_keys
from kiosk.epp import crypto as c
from kiosk.flows.payment import pay
from kiosk.flows.session import Session
from kiosk.idcard.synthetic import synthetic_identity
from kiosk.receipt.commands import PaperLevel, PrinterStatus
from tests.kiosk.fake_hospital import FakeHospital
from tests.kiosk.flows.conftest import Pad, PressingPad, Printer, card_data

pytestmark = pytest.mark.integration  # drivers on their pty simulators

PIN = "123456"
TERMINAL = "kiosk-001"
OUT_OF_PAPER = PrinterStatus(online=False, cover_open=False, paper=PaperLevel.OUT, cutter_error=False,
                             unrecoverable_error=False)


def booked(hospital: FakeHospital) -> Session:
    session = Session()
    session.identity = synthetic_identity(random.Random(9))
    session.patient = hospital.add_patient(session.identity.id_number, session.identity.name,
                                           session.identity.birth_date)
    session.booking = hospital.hold_slot(session.patient.patient_id, "S109", idempotency_key="k1")
    session.bank_card = card_data("no-id")
    return session


def test_approved_payment_carries_the_pads_pin_block(hospital: FakeHospital, pad: Pad, printer: Printer) -> None:
    session = booked(hospital)
    digits: list[int] = []
    paid = pay(hospital, PressingPad(pad, [*PIN, "ENTER"]), printer.driver, session, pad.keys, TERMINAL,
               on_digits=digits.append)
    assert paid.outcome == "approved" and paid.notice.code == "paid" and "25.00" in paid.notice.text("zh")
    assert digits == [1, 2, 3, 4, 5, 6]
    (request,) = hospital.payments
    clear = c.decrypt_ecb(c.Algorithm.TDES, demo_keys.PIN_KEY, request.pin_block)
    pan_part = bytes.fromhex("0000" + c.pan_field(request.pan))
    assert c.xor_bytes(clear, pan_part).hex().upper().startswith("06" + PIN)  # ISO 9564-0, PIN inside the pad
    assert hospital.charged_fen == 2500 and hospital.bookings[session.booking.booking_id].status == "paid"  # type: ignore[union-attr]


def test_wrong_pin_offers_another_try_then_the_right_pin_pays_once(hospital: FakeHospital, pad: Pad,
                                                                   printer: Printer) -> None:
    session = booked(hospital)
    pan12 = c.pan_field(session.bank_card.pan)  # type: ignore[union-attr]
    hospital.correct_pin_blocks = {c.encrypted_pin_block(PIN, pan12, 0, c.Algorithm.TDES, demo_keys.PIN_KEY)}
    first = pay(hospital, PressingPad(pad, [*"654321", "ENTER"]), printer.driver, session, pad.keys, TERMINAL)
    assert first.outcome == "declined" and first.retry_pin and "2" in first.notice.text("zh")
    second = pay(hospital, PressingPad(pad, [*PIN, "ENTER"]), printer.driver, session, pad.keys, TERMINAL, attempt=2)
    assert second.outcome == "approved" and hospital.charged_fen == 2500


def test_third_wrong_pin_is_a_plain_decline(hospital: FakeHospital, pad: Pad, printer: Printer) -> None:
    session = booked(hospital)
    hospital.pay_mode = "decline:55"
    paid = pay(hospital, PressingPad(pad, [*PIN, "ENTER"]), printer.driver, session, pad.keys, TERMINAL, attempt=3)
    assert paid.outcome == "declined" and not paid.retry_pin and "密码错误" in paid.notice.text("zh")
    assert "Nothing was charged" in paid.notice.text("en")


@pytest.mark.parametrize(("code", "zh"), [("51", "余额不足"), ("75", "锁定"), ("05", "拒绝")])
def test_decline_states_the_reason(hospital: FakeHospital, pad: Pad, printer: Printer, code: str, zh: str) -> None:
    session = booked(hospital)
    hospital.pay_mode = f"decline:{code}"
    paid = pay(hospital, PressingPad(pad, [*PIN, "ENTER"]), printer.driver, session, pad.keys, TERMINAL)
    assert paid.outcome == "declined" and zh in paid.notice.text("zh") and hospital.charged_fen == 0


def test_acquirer_timeout_is_not_charged(hospital: FakeHospital, pad: Pad, printer: Printer) -> None:
    session = booked(hospital)
    hospital.pay_mode = "timeout"
    paid = pay(hospital, PressingPad(pad, [*PIN, "ENTER"]), printer.driver, session, pad.keys, TERMINAL)
    assert paid.outcome == "not-charged" and "未扣款" in paid.notice.text("zh") and hospital.charged_fen == 0


class ListQueue:
    def __init__(self) -> None:
        self.added: list[tuple[str, str, dict[str, object]]] = []

    def add(self, kind: str, schema: str, body: dict[str, object], made_at_ms: int | None = None) -> int:
        self.added.append((kind, schema, body))
        return len(self.added)


def test_hub_silent_retries_with_one_key_and_is_never_called_paid(hospital: FakeHospital, pad: Pad,
                                                                  printer: Printer) -> None:
    queue = ListQueue()
    session = booked(hospital)
    hospital.unreachable = True
    waited: list[float] = []
    paid = pay(hospital, PressingPad(pad, [*PIN, "ENTER"]), printer.driver, session, pad.keys, TERMINAL,
               queue=queue, confirm_within_s=0.0, sleep=waited.append)
    assert paid.outcome == "unconfirmed" and hospital.calls.count("pay") == 3 and len(waited) == 2
    assert "returned automatically" in paid.notice.text("en") and paid.notice.params["ref"]
    assert [(kind, schema) for kind, schema, _ in queue.added] == [("payment-void", "payment-void/1")]
    assert len(set(hospital.pay_keys)) == 1 and hospital.charged_fen == 0


def test_pin_cancel_and_out_of_paper_charge_nothing(hospital: FakeHospital, pad: Pad, printer: Printer) -> None:
    session = booked(hospital)
    cancelled = pay(hospital, PressingPad(pad, ["1", "2", "CANCEL"]), printer.driver, session, pad.keys, TERMINAL)
    assert cancelled.outcome == "not-charged" and cancelled.notice.code == "pin_cancelled"
    printer.sim.status = OUT_OF_PAPER
    pressing = PressingPad(pad, [*PIN, "ENTER"])
    refused = pay(hospital, pressing, printer.driver, session, pad.keys, TERMINAL)
    assert refused.outcome == "refused" and refused.notice.code == "printer_out_before_pay"
    assert pressing.starts == 0 and "pay" not in hospital.calls and hospital.charged_fen == 0
