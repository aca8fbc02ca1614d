"""Payment gateway + acquirer simulator over TCP on loopback: approve, decline with reason, timeout ->
reversal -> not-charged, dropped line, acquirer down, a retry never charges twice, no PAN at rest."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from central_hub.services.db import ServicesDb
from central_hub.services.dispatcher import Dispatcher
from central_hub.services.errors import ServiceError
from central_hub.services.gateway import AcquirerGateway, GatewayConfig
from central_hub.services.iso8583 import MAC_KEY_BYTES
from mqtt_broker_config.launcher import free_port
from tests.acquirer_simulator.support import (
    CARDS,
    MAC_KEY,
    TERMINAL,
    Acquirer,
    pin_block,
    run_acquirer,
    terminal_mac,
)
from tests.central_hub.services.conftest import DEVICE, Clock, call, make_dispatcher, refusal

pytestmark = pytest.mark.integration

NEW = {"id_number": "11010519491231002X", "name": "王测试", "sex": "2", "birth_date": "1949-12-31"}


@pytest.fixture
def acquirer(tmp_path: Path) -> Iterator[Acquirer]:
    with run_acquirer(tmp_path / "acq", late_s=2.5) as a:
        yield a


def _gateway(host: str, port: int) -> AcquirerGateway:
    assert len(MAC_KEY) == MAC_KEY_BYTES
    return AcquirerGateway(GatewayConfig(host, port, MAC_KEY, connect_timeout_s=1.0, answer_timeout_s=1.0,
                                         reversal_timeout_s=1.0, reversal_attempts=2))


@pytest.fixture
def paying(services_db: ServicesDb, clock: Clock, acquirer: Acquirer) -> Dispatcher:
    return make_dispatcher(services_db, clock, _gateway(acquirer.host, acquirer.port))


def _held_booking(d: Dispatcher, n: int = 0, reg_key: str = "idem-reg-0001") -> dict:
    pid = call(d, "patient.register", NEW, reg_key)["patient_id"]
    slot = call(d, "schedule.free_slots", {"visit_code": "ANC2"})[n]
    return call(d, "booking.hold", {"patient_id": pid, "slot_id": slot["slot_id"]}, f"idem-hold-{n:04d}")


def _pay_args(booking: dict, card: str, pin: str = "246810") -> dict:
    block = pin_block(CARDS[card], pin).hex().upper()
    return {"booking_id": booking["booking_id"], "amount_fen": booking["fee_fen"], "pan": CARDS[card],
            "pan_sequence": "1", "card_expiry": "2030-12-31", "pin_block": block, "terminal_id": TERMINAL,
            "terminal_mac": terminal_mac("000000", booking["fee_fen"], CARDS[card], "3012", block)}


def test_approved_marks_the_booking_paid_and_a_retry_never_charges_twice(paying: Dispatcher,
                                                                         acquirer: Acquirer) -> None:
    booking = _held_booking(paying)
    result = call(paying, "payment.pay", _pay_args(booking, "approve"), "idem-pay-0001")
    assert result["outcome"] == "approved" and result["response_code"] == "00" and len(result["auth_code"]) == 6
    assert paying.schedule.booking(booking["booking_id"])["status"] == "paid"
    assert call(paying, "payment.pay", _pay_args(booking, "approve"), "idem-pay-0001") == result
    assert refusal(paying, "payment.pay", _pay_args(booking, "approve"), "idem-pay-0002") == "already-paid"
    assert acquirer.balance(CARDS["approve"]) == 1_000_000 - booking["fee_fen"]
    assert len(acquirer.events("charge")) == 1


@pytest.mark.parametrize(("card", "pin", "code", "reason"), [
    ("approve", "135790", "55", "incorrect PIN"), ("poor", "246810", "51", "insufficient funds"),
    ("refuse", "246810", "05", "do not honour")])
def test_declined_with_the_reason(paying: Dispatcher, acquirer: Acquirer, card: str, pin: str, code: str,
                                  reason: str) -> None:
    booking = _held_booking(paying)
    result = call(paying, "payment.pay", _pay_args(booking, card, pin), "idem-pay-0003")
    assert (result["outcome"], result["response_code"], result["reason"]) == ("declined", code, reason)
    assert paying.schedule.booking(booking["booking_id"])["status"] == "held"  # she can try another card
    assert acquirer.events("charge") == []


@pytest.mark.parametrize("card", ["timeout", "drop"])
def test_no_answer_in_time_is_reversed_and_not_charged(paying: Dispatcher, acquirer: Acquirer, card: str) -> None:
    booking = _held_booking(paying)
    result = call(paying, "payment.pay", _pay_args(booking, card), "idem-pay-0004")
    assert result["outcome"] == "not-charged" and "reversed" in result["reason"]
    assert len(acquirer.events("charge")) == 1 and len(acquirer.events("reversal")) == 1
    assert acquirer.balance(CARDS[card]) == 1_000_000
    assert paying.schedule.booking(booking["booking_id"])["status"] == "held"
    assert [o for _, _, o in paying.payments.outcomes()] == ["not-charged"]


def test_the_terminal_mac_reaches_the_acquirer_untouched(paying: Dispatcher, acquirer: Acquirer) -> None:
    """The PIN pad MACs amount, card and PIN block under the terminal's key; the acquirer checks it, so
    an amount changed after the pad (at the hub or on the way) is refused and nothing is charged."""
    booking = _held_booking(paying)
    args = _pay_args(booking, "approve")
    other = terminal_mac("000000", booking["fee_fen"] * 10, CARDS["approve"], "3012", args["pin_block"])
    result = call(paying, "payment.pay", {**args, "terminal_mac": other}, "idem-pay-0101")
    assert (result["outcome"], result["response_code"], result["reason"]) == ("declined", "A0", "MAC check failed")
    assert refusal(paying, "payment.pay", {**args, "terminal_mac": "not hex"}, "idem-pay-0102") == "bad-request"
    assert call(paying, "payment.pay", args, "idem-pay-0103")["outcome"] == "approved"
    assert len(acquirer.events("charge")) == 1


def test_acquirer_down_is_not_charged(services_db: ServicesDb, clock: Clock) -> None:
    d = make_dispatcher(services_db, clock, _gateway("127.0.0.1", free_port()))
    booking = _held_booking(d)
    result = call(d, "payment.pay", _pay_args(booking, "approve"), "idem-pay-0005")
    assert result["outcome"] == "not-charged" and result["response_code"] is None


def test_wrong_amount_expired_hold_and_no_gateway_are_refused(paying: Dispatcher, clock: Clock,
                                                              services_db: ServicesDb) -> None:
    booking = _held_booking(paying)
    assert refusal(paying, "payment.pay", {**_pay_args(booking, "approve"), "amount_fen": 1}, "idem-pay-0006") == \
        "amount-mismatch"
    clock.now += 11 * 60
    assert refusal(paying, "payment.pay", _pay_args(booking, "approve"), "idem-pay-0007") == "hold-expired"
    plain = make_dispatcher(services_db, clock)
    assert refusal(plain, "payment.pay", _pay_args(_held_booking(plain, 1, "idem-reg-0002"), "approve"), "idem-pay-0008") == \
        "payment-unavailable"


def test_pan_is_never_stored_nor_logged(paying: Dispatcher, services_db: ServicesDb, tmp_path: Path,
                                        caplog: pytest.LogCaptureFixture, acquirer: Acquirer) -> None:
    caplog.set_level(logging.DEBUG)
    for i, card in enumerate(("approve", "timeout", "poor")):
        call(paying, "payment.pay", _pay_args(_held_booking(paying, i), card), f"idem-pay-1{i:03d}")
    tables = [r[0] for r in services_db.query("SELECT table_name FROM information_schema.tables WHERE table_schema ="
                                              " current_schema() AND table_name LIKE ?", ("svc%",))] if services_db.lock_suffix else \
        [r[0] for r in services_db.query("SELECT name FROM sqlite_master WHERE type = 'table'")]
    dump = b""
    for table in tables:
        for row in services_db.query(f"SELECT * FROM {table}"):
            dump += b"|".join(bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode() for v in row)
    path = services_db.store.url.removeprefix("sqlite:///")
    files = [Path(path), Path(path + "-wal")] if not services_db.lock_suffix else []
    for pan in (CARDS["approve"], CARDS["timeout"], CARDS["poor"]):
        assert pan.encode() not in dump
        for f in files:
            if f.exists():
                assert pan.encode() not in f.read_bytes()
        assert pan not in caplog.text
        assert pan not in (tmp_path / "acq" / "acquirer.log").read_text()
        assert pan not in acquirer.journal_path.read_text()
    assert b"621700******" in dump  # the masked form is kept


def test_unknown_outcomes_are_reversed_later(paying: Dispatcher, acquirer: Acquirer, clock: Clock,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    live = paying.payments.gateway
    assert live is not None
    # 1. the acquirer charged, answered too late, and no reversal got through
    paying.payments.gateway = AcquirerGateway(GatewayConfig(acquirer.host, acquirer.port, MAC_KEY,
                                                            answer_timeout_s=1.0, reversal_attempts=0))
    first = _held_booking(paying)
    result = call(paying, "payment.pay", _pay_args(first, "timeout"), "idem-pay-2001")
    assert result["outcome"] == "not-charged" and "pending" in result["reason"]
    assert acquirer.balance(CARDS["timeout"]) == 1_000_000 - first["fee_fen"]  # charged for now
    # 2. the hub stopped between sending the 0200 and its answer
    paying.payments.gateway = live

    def crash(auth: object) -> None:
        raise RuntimeError("the hub stopped here")

    monkeypatch.setattr(live, "authorise", crash)
    second = _held_booking(paying, 1)
    with pytest.raises(RuntimeError):  # the dispatcher lets it through; the lane answers internal-error
        paying.handle("kiosk-001", "payment.pay", _pay_args(second, "approve"), "idem-pay-2003")
    monkeypatch.undo()
    assert sorted(o for _, _, o in paying.payments.outcomes()) == ["pending", "reversal-pending"]
    assert paying.payments.settle_unknown() == 0  # too recent: might still be in flight
    clock.now += 61
    assert paying.payments.settle_unknown() == 2
    assert [o for _, _, o in paying.payments.outcomes()] == ["not-charged", "not-charged"]
    assert acquirer.balance(CARDS["timeout"]) == 1_000_000
    assert paying.payments.settle_unknown() == 0


KEY = "5" * 32  # the idempotency key the kiosk sent its payment.pay under


def _void(booking: dict, key: str) -> dict:
    return {"idempotency_key": key, "booking_id": booking["booking_id"], "amount_fen": booking["fee_fen"],
            "terminal_id": TERMINAL}


def test_an_approval_the_kiosk_never_saw_is_reversed_by_its_payment_void(paying: Dispatcher,
                                                                         acquirer: Acquirer) -> None:
    booking = _held_booking(paying)
    # the hub approves; the answer never reaches the kiosk, which queues payment-void/1 under the key
    assert call(paying, "payment.pay", _pay_args(booking, "approve"), KEY)["outcome"] == "approved"
    assert acquirer.balance(CARDS["approve"]) == 1_000_000 - booking["fee_fen"]
    other = _held_booking(paying, 1, "idem-reg-0002")  # paid and shown to her: left alone
    assert call(paying, "payment.pay", _pay_args(other, "approve"), "idem-pay-3002")["outcome"] == "approved"
    assert paying.payments.void_unconfirmed(DEVICE, _void(booking, KEY)) == 1
    assert acquirer.balance(CARDS["approve"]) == 1_000_000 - other["fee_fen"]  # the lost one is not charged
    assert len(acquirer.events("charge")) == 2
    by_booking = {b: o for _, b, o in paying.payments.outcomes()}
    assert by_booking == {booking["booking_id"]: "not-charged", other["booking_id"]: "approved"}
    assert paying.schedule.booking(booking["booking_id"])["status"] == "released"
    assert paying.schedule.booking(other["booking_id"])["status"] == "paid"
    assert paying.payments.void_unconfirmed(DEVICE, _void(booking, KEY)) == 0  # delivered again: nothing more
    assert acquirer.balance(CARDS["approve"]) == 1_000_000 - other["fee_fen"]


def test_a_void_the_acquirer_does_not_confirm_stays_pending_until_settled(paying: Dispatcher, acquirer: Acquirer,
                                                                         clock: Clock) -> None:
    booking = _held_booking(paying)
    assert call(paying, "payment.pay", _pay_args(booking, "approve"), KEY)["outcome"] == "approved"
    live = paying.payments.gateway
    assert live is not None
    paying.payments.gateway = _gateway("127.0.0.1", free_port())  # the acquirer cannot be reached now
    assert paying.payments.void_unconfirmed(DEVICE, _void(booking, KEY)) == 0
    assert [o for _, _, o in paying.payments.outcomes()] == ["reversal-pending"]
    assert acquirer.balance(CARDS["approve"]) == 1_000_000 - booking["fee_fen"]  # still charged, and known so
    paying.payments.gateway = live
    clock.now += 61
    assert paying.payments.settle_unknown() == 1
    assert [o for _, _, o in paying.payments.outcomes()] == ["not-charged"]
    assert acquirer.balance(CARDS["approve"]) == 1_000_000


def test_a_void_with_bad_fields_is_refused_and_changes_nothing(paying: Dispatcher, acquirer: Acquirer) -> None:
    booking = _held_booking(paying)
    assert call(paying, "payment.pay", _pay_args(booking, "approve"), KEY)["outcome"] == "approved"
    with pytest.raises(ServiceError, match="no payment"):  # another kiosk cannot void hers
        paying.payments.void_unconfirmed("kiosk-999", _void(booking, KEY))
    for bad in ({**_void(booking, KEY), "terminal_id": "kiosk-1"}, {**_void(booking, KEY), "amount_fen": "25"},
                {**_void(booking, KEY), "idempotency_key": "idem-pay-9999"}):
        with pytest.raises(ServiceError):
            paying.payments.void_unconfirmed(DEVICE, bad)
    assert paying.payments.void_unconfirmed(DEVICE, {**_void(booking, KEY), "amount_fen": 1}) == 0  # not this payment
    assert [o for _, _, o in paying.payments.outcomes()] == ["approved"]
    assert acquirer.balance(CARDS["approve"]) == 1_000_000 - booking["fee_fen"]
