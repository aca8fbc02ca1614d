"""Leaving through the real I/O board driver and simulator."""

from __future__ import annotations

import time

import pytest

from kiosk.flows.devices import DeviceHealth, Devices
from kiosk.flows.leave import leave
from kiosk.flows.messages import Notice
from kiosk.flows.session import Session
from tests.kiosk.flows.conftest import Board, card_data

pytestmark = pytest.mark.integration  # drivers on their pty simulators


def _card_inside(board: Board) -> None:
    board.sim.board.insert_card()
    assert board.driver.accept_card(5).ok


def test_card_taken_is_not_captured_and_session_wiped(board: Board) -> None:
    _card_inside(board)
    session = Session(bank_card=card_data())
    reminders: list[Notice] = []

    def take(seconds: float) -> None:
        time.sleep(seconds)
        if board.sim.board.position == "entry":
            board.sim.board.remove_card()

    left = leave(session, board.driver, None, take_card_s=10, remind=reminders.append, sleep=take)
    assert not left.card_captured and Notice("take_card") in reminders
    assert left.notices[-1].code == "goodbye" and session.personal_strings() == []


def test_card_left_behind_is_captured(board: Board) -> None:
    _card_inside(board)
    session = Session(bank_card=card_data())
    left = leave(session, board.driver, None, take_card_s=1.0)
    assert left.card_captured and Notice("card_captured") in left.notices
    assert not board.driver.heartbeat().card_inside and session.bank_card is None


def test_no_card_nothing_to_eject(board: Board) -> None:
    session = Session(bank_card=card_data())
    left = leave(session, board.driver, None)
    assert [n.code for n in left.notices] == ["goodbye"] and session.bank_card is None


def _health(board: Board) -> DeviceHealth:
    health = DeviceHealth(Devices(motor=board.driver))
    assert health.ok("motor")
    return health


def test_a_capture_that_jams_is_a_card_transport_fault_not_a_captured_card(board: Board) -> None:
    _card_inside(board)
    session, health = Session(bank_card=card_data()), _health(board)

    def walks_away(seconds: float) -> None:  # she leaves the card; the transport jams when it pulls it in
        board.sim.board.jam, board.sim.board.motion_timeout_s = True, 0.3

    left = leave(session, board.driver, None, take_card_s=1.0, sleep=walks_away, health=health)
    assert not left.card_captured and Notice("card_captured") not in left.notices
    assert Notice("device_fault", {"devices": "motor"}) in left.notices and left.notices[-1].code == "goodbye"
    assert Notice("card_stuck") in left.notices  # she is told where her card is
    assert left.motor_fault is not None and "capture failed (jam)" in left.motor_fault
    assert not health.ok("motor") and health.snapshot()["motor"] == left.motor_fault
    assert board.driver.heartbeat().card_inside and board.sim.board.captured == 0
    assert session.personal_strings() == []


def test_a_card_stuck_inside_is_not_waited_for_but_captured_at_once(board: Board) -> None:
    """A failed eject leaves nothing at the mouth to take: no 30 s of 'take your card'."""
    _card_inside(board)
    board.sim.board.jam, board.sim.board.motion_timeout_s = True, 0.3  # stuck halfway out, and for the capture
    session, health = Session(bank_card=card_data()), _health(board)
    waited: list[float] = []
    reminders: list[Notice] = []
    left = leave(session, board.driver, None, remind=reminders.append, sleep=waited.append, health=health)
    assert waited == [] and reminders == [] and Notice("take_card") not in left.notices
    assert not left.card_captured and Notice("device_fault", {"devices": "motor"}) in left.notices
    assert left.motor_fault is not None and "capture failed (jam)" in left.motor_fault and not health.ok("motor")


def test_a_full_capture_bin_is_reported_to_the_technician(board: Board) -> None:
    _card_inside(board)
    board.sim.board.bin_full = True
    session, health = Session(bank_card=card_data()), _health(board)
    left = leave(session, board.driver, None, take_card_s=0.5, sleep=lambda s: None, health=health)
    assert not left.card_captured and Notice("device_fault", {"devices": "motor"}) in left.notices
    assert not health.ok("motor") and left.motor_fault is not None and session.bank_card is None
