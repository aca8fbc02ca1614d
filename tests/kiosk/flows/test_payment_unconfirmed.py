"""A payment the hub handles but whose answer is lost: the kiosk asks again under the same
idempotency key for a bounded time, and only then tells her anything; if the hub stays silent a
durable `payment-void/1` record under that key is queued (never a PAN). Real PIN pad on its
simulator, real outbox (SQLite), a fake hospital whose answers are dropped on the way back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from kiosk.flows.payment import pay
from kiosk.hospital.api import HospitalError, HospitalUnavailable, PaymentRequest, PaymentResult
from mch_link import schemas
from mch_link.outbox import Outbox
from tests.kiosk.a4printer.test_follow import FakeClock
from tests.kiosk.fake_hospital import FakeHospital
from tests.kiosk.flows.conftest import Pad, PressingPad, Printer
from tests.kiosk.flows.test_payment import booked

pytestmark = pytest.mark.integration  # drivers on their pty simulators

PIN = "123456"
TERMINAL = "KIOSK001"


class LosingAnswers(FakeHospital):
    """The hub does the payment, then the first `lose` answers never reach the kiosk."""

    lose = 0

    def pay(self, request: PaymentRequest, *, idempotency_key: str) -> PaymentResult:
        result = super().pay(request, idempotency_key=idempotency_key)
        if self.lose > 0:
            self.lose -= 1
            raise HospitalUnavailable()
        return result


def queued(outbox: Outbox) -> list[tuple[str, str, dict[str, object]]]:
    return [(r.kind, r.schema, r.body) for r in outbox.pending()]


def test_approved_answer_lost_four_times_is_asked_again_and_she_is_told_paid_once(pad: Pad, printer: Printer,
                                                                             tmp_path: Path) -> None:
    hospital = LosingAnswers()
    hospital.lose = 4  # more than the old three tries
    session, clock, outbox = booked(hospital), FakeClock(), Outbox(tmp_path / "outbox.sqlite")
    paid = pay(hospital, PressingPad(pad, [*PIN, "ENTER"]), printer.driver, session, pad.keys, TERMINAL,
               queue=outbox, clock=clock, sleep=clock.sleep)
    assert paid.outcome == "approved" and paid.notice.code == "paid" and "25.00" in paid.notice.text("zh")
    assert hospital.calls.count("pay") == 5 and len(set(hospital.pay_keys)) == 1  # one key: one charge
    assert hospital.charged_fen == 2500 and len(hospital.payments) == 1
    assert queued(outbox) == []  # confirmed to her: nothing to void


def test_hub_silent_for_the_whole_window_keeps_asking_then_queues_a_void(pad: Pad, printer: Printer,
                                                                         tmp_path: Path) -> None:
    hospital = LosingAnswers()
    hospital.lose = 10_000  # approved at the first call, every answer lost
    session, clock, outbox = booked(hospital), FakeClock(), Outbox(tmp_path / "outbox.sqlite")
    waits: list[float] = []
    paid = pay(hospital, PressingPad(pad, [*PIN, "ENTER"]), printer.driver, session, pad.keys, TERMINAL,
               queue=outbox, confirm_within_s=30.0, retry_pause_s=2.0, clock=clock, sleep=clock.sleep,
               waiting=lambda: waits.append(clock.t))
    assert len(waits) == 15  # the app's idle timer is held off before every retry
    assert clock.t >= 30.0 and hospital.calls.count("pay") == 16  # asked every 2 s for 30 s, then once more
    assert len(set(hospital.pay_keys)) == 1 and len(hospital.payments) == 1
    assert paid.outcome == "unconfirmed" and paid.notice.code == "payment_unconfirmed"
    assert "如有扣款将自动退回" in paid.notice.text("zh")
    ((kind, schema, body),) = queued(outbox)  # durably, for the hub to reverse what she never saw
    assert (kind, schema) == ("payment-void", "payment-void/1")
    schemas.validate(schema, body)
    assert body == {"idempotency_key": hospital.pay_keys[0], "booking_id": session.booking.booking_id,  # type: ignore[union-attr]
                    "amount_fen": 2500, "terminal_id": TERMINAL}
    assert session.bank_card is not None and session.bank_card.pan not in repr(body)
    assert paid.notice.params["ref"] == hospital.pay_keys[0][:12].upper()


def test_without_an_outbox_she_is_promised_nothing_but_sent_to_the_desk(pad: Pad, printer: Printer) -> None:
    hospital = LosingAnswers()
    hospital.lose = 10_000
    session, clock = booked(hospital), FakeClock()
    paid = pay(hospital, PressingPad(pad, [*PIN, "ENTER"]), printer.driver, session, pad.keys, TERMINAL,
               clock=clock, sleep=clock.sleep)
    assert paid.outcome == "unconfirmed" and paid.notice.code == "payment_unknown"
    assert "自动退回" not in paid.notice.text("zh") and "人工窗口" in paid.notice.text("zh")


class StillRunning(LosingAnswers):
    """The kiosk's first call times out while the hub waits on the acquirer; the next `busy` calls
    under that key get the dispatcher's `in-progress` (the first still runs), then its kept answer."""

    busy = 0

    def pay(self, request: PaymentRequest, *, idempotency_key: str) -> PaymentResult:
        if self.payments and self.busy > 0:
            self.busy -= 1
            self.pay_keys.append(idempotency_key)
            self.calls.append("pay")
            raise HospitalError("in-progress", "the same request is still being processed")
        return super().pay(request, idempotency_key=idempotency_key)


def test_a_payment_still_running_at_the_hub_is_asked_again_and_she_is_told_paid(pad: Pad, printer: Printer,
                                                                              tmp_path: Path) -> None:
    hospital = StillRunning()
    hospital.lose, hospital.busy = 1, 3
    session, clock, outbox = booked(hospital), FakeClock(), Outbox(tmp_path / "outbox.sqlite")
    paid = pay(hospital, PressingPad(pad, [*PIN, "ENTER"]), printer.driver, session, pad.keys, TERMINAL,
               queue=outbox, clock=clock, sleep=clock.sleep)
    assert paid.outcome == "approved" and paid.notice.code == "paid"
    assert hospital.calls.count("pay") == 5 and len(set(hospital.pay_keys)) == 1
    assert hospital.charged_fen == 2500 and len(hospital.payments) == 1 and queued(outbox) == []


def test_an_earlier_payment_still_being_settled_is_not_a_refusal_but_voided(pad: Pad, printer: Printer,
                                                                           tmp_path: Path) -> None:
    """The hub's `payment-in-progress`: another attempt for this booking may yet be approved."""
    hospital = LosingAnswers()
    session, clock, outbox = booked(hospital), FakeClock(), Outbox(tmp_path / "outbox.sqlite")
    assert session.booking is not None
    hospital.settling.add(session.booking.booking_id)
    paid = pay(hospital, PressingPad(pad, [*PIN, "ENTER"]), printer.driver, session, pad.keys, TERMINAL,
               queue=outbox, confirm_within_s=10.0, retry_pause_s=2.0, clock=clock, sleep=clock.sleep)
    assert paid.outcome == "unconfirmed" and paid.notice.code == "payment_unconfirmed"
    assert "如有扣款将自动退回" in paid.notice.text("zh") and "医院系统拒绝" not in paid.notice.text("zh")
    assert clock.t >= 10.0 and len(set(hospital.pay_keys)) == 1 and hospital.charged_fen == 0
    ((kind, _, body),) = queued(outbox)
    assert kind == "payment-void" and body["idempotency_key"] == hospital.pay_keys[0]


def test_a_plain_refusal_is_final_at_once(pad: Pad, printer: Printer, tmp_path: Path) -> None:
    hospital = LosingAnswers()
    session, clock, outbox = booked(hospital), FakeClock(), Outbox(tmp_path / "outbox.sqlite")
    assert session.booking is not None
    session.booking = replace(session.booking, fee_fen=1)  # not the fee: the hub refuses `amount`
    paid = pay(hospital, PressingPad(pad, [*PIN, "ENTER"]), printer.driver, session, pad.keys, TERMINAL,
               queue=outbox, clock=clock, sleep=clock.sleep)
    assert paid.outcome == "not-charged" and paid.notice.params == {"hub_code": "amount"}
    assert hospital.calls.count("pay") == 1 and clock.t == 0 and queued(outbox) == []
