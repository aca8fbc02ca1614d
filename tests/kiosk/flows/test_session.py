from __future__ import annotations

import random

import pytest

from kiosk.flows.session import IdleTimer, Session
from kiosk.idcard.synthetic import synthetic_identity
from tests.kiosk.flows.conftest import card_data


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_idle_timer_warns_then_expires_and_more_time_extends() -> None:
    clock = Clock()
    timer = IdleTimer(60, 15, clock=clock)
    clock.now += 44
    assert not timer.warning() and not timer.expired()
    clock.now += 2
    assert timer.warning() and timer.remaining_s() == pytest.approx(14)
    timer.more_time(90)
    assert not timer.warning() and timer.remaining_s() == pytest.approx(90)
    clock.now += 90
    assert timer.expired()
    with pytest.raises(ValueError):
        IdleTimer(10, 10)


def test_touch_never_shortens_the_time_given() -> None:
    clock = Clock()
    timer = IdleTimer(60, 15, clock=clock)
    timer.more_time(120)
    timer.touch()
    assert timer.remaining_s() == pytest.approx(120)


def test_wipe_forgets_everything_personal_and_the_keys() -> None:
    session = Session()
    session.identity = synthetic_identity(random.Random(5))
    session.bank_card = card_data()
    key = session.idempotency_key("pay")
    assert session.idempotency_key("pay") == key and session.new_attempt("pay") != key
    strings = session.personal_strings()
    assert session.identity.id_number in strings and session.bank_card.pan in strings
    assert all(s not in repr(session) for s in strings)
    session.wipe()
    assert session.personal_strings() == [] and not session.identified
    assert session.idempotency_key("pay") != key
