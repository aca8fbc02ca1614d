"""The sliding replay window."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from central_hub.replay import WINDOW_SIZE, ReplayWindow, Verdict


def test_fresh_then_seen() -> None:
    w = ReplayWindow()
    assert w.check(0) is Verdict.FRESH
    w = w.accept(0)
    assert w.check(0) is Verdict.SEEN
    assert w.check(1) is Verdict.FRESH


def test_gaps_inside_the_window_stay_usable_once() -> None:
    w = ReplayWindow().accept(10).accept(5)
    assert [w.check(c) for c in (4, 5, 6, 10, 11)] == [Verdict.FRESH, Verdict.SEEN, Verdict.FRESH, Verdict.SEEN,
                                                      Verdict.FRESH]


def test_below_the_window_is_stale() -> None:
    w = ReplayWindow().accept(WINDOW_SIZE + 100)
    assert w.check(100) is Verdict.STALE
    assert w.check(101) is Verdict.FRESH


def test_a_big_jump_clears_the_bitmap() -> None:
    w = ReplayWindow().accept(1).accept(1 + 5 * WINDOW_SIZE)
    assert w.bits == 1 and w.check(1 + 5 * WINDOW_SIZE - 1) is Verdict.FRESH


def test_round_trip_through_bytes() -> None:
    w = ReplayWindow().accept(3).accept(700).accept(1000)
    assert ReplayWindow.from_row(w.high, w.to_bytes()) == w


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=3 * WINDOW_SIZE), max_size=200))
def test_window_matches_a_set_model(counters: list[int]) -> None:
    w, seen = ReplayWindow(), set()
    for c in counters:
        verdict = w.check(c)
        if c in seen:
            assert verdict is not Verdict.FRESH
        elif verdict is Verdict.FRESH:
            w = w.accept(c)
            seen.add(c)
        else:
            assert verdict is Verdict.STALE and c <= w.high - WINDOW_SIZE
