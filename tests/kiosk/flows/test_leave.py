"""Leaving through the real I/O board driver and simulator."""

from __future__ import annotations

import time

import pytest

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
