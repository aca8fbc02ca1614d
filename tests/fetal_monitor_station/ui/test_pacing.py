"""The refresh timetable: late ticks do not slow the 4 Hz refresh down, a stall owes one refresh."""

from __future__ import annotations

import random

import pytest

from fetal_monitor_station.ui.pacing import Pacer


def _refreshes(ticks: list[float], period_s: float = 0.25) -> list[float]:
    pacer = Pacer(period_s, 0.0)
    return [t for t in ticks if pacer.due(t)]


def _loaded_ticks(seconds: float, seed: int = 1) -> list[float]:
    """Clock ticks at a 10 fps cap where frames often overrun (0-90 ms late), as under llvmpipe."""
    rnd, t, out = random.Random(seed), 0.0, []
    while t < seconds:
        t += 0.1 + (rnd.uniform(0.0, 0.09) if rnd.random() < 0.6 else 0.0)
        out.append(t)
    return out


def test_late_ticks_keep_four_per_second_on_average() -> None:
    fired = _refreshes(_loaded_ticks(120.0))
    assert len(fired) == pytest.approx(4 * 120, abs=2)
    # the restart-from-last-run rule (Kivy's schedule_interval) loses time at every late tick
    last, restarted = 0.0, 0
    for t in _loaded_ticks(120.0):
        if t - last >= 0.25 - 0.005:
            last, restarted = t, restarted + 1
    assert restarted < 4 * 120 * 0.9


def test_never_early_and_no_burst_after_a_stall() -> None:
    ticks = [i / 10 for i in range(1, 31)] + [5.0 + i / 10 for i in range(30)]  # no tick from 3.0 to 5.0 s
    fired = _refreshes(ticks)
    assert fired[:4] == pytest.approx([0.3, 0.5, 0.8, 1.0])  # the first tick at or after each due time
    assert [round(t, 3) for t in fired if 3.0 < t < 6.0] == [5.0, 5.3, 5.5, 5.8]  # one for the stall, then 4 Hz


def test_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="period"):
        Pacer(0.0, 0.0)
