"""Excursion runs and signal gaps: a run is timed from where the FHR left the baseline, also when
that happened inside a short gap (as a run left across a gap already ends after it)."""

from __future__ import annotations

import numpy as np
import pytest

from fetal_monitor_station.analysis.detect import ExcursionDetector, ExcursionRule
from fetal_monitor_station.analysis.events import Episode
from fetal_monitor_station.trace import SAMPLE_HZ

RULES = [ExcursionRule(1, "acceleration", 0.0, 15.0, 15.0, 600.0), ExcursionRule(-1, "deceleration", 0.0, 15.0, 15.0)]
N = 120 * SAMPLE_HZ


def run(dev: np.ndarray, chunk: int = N) -> list[Episode]:
    det = ExcursionDetector(RULES, SAMPLE_HZ)
    out: list[Episode] = []
    for a in range(0, dev.size, chunk):
        out += det.feed(a, dev[a:a + chunk], np.full(min(chunk, dev.size - a), 140.0))
    return out + det.flush(dev.size)


def at(s: float) -> int:
    return int(s * SAMPLE_HZ)


@pytest.mark.parametrize("chunk", [N, at(27.0), at(28.0), 7])  # chunk edges before / inside the gap
def test_a_deceleration_whose_fall_is_lost_in_a_short_gap_is_timed_from_the_gap(chunk: int) -> None:
    """FHR at the baseline, a 6-s gap, then 12 s at 30 bpm below: the FHR left the baseline in the gap,
    so the deceleration lasts 18 s (>= 15 s). Timed from its first valid sample (12 s) it was dropped."""
    dev = np.zeros(N)
    dev[at(25.0):at(31.0)] = np.nan
    dev[at(31.0):at(43.0)] = -30.0
    (ep,) = run(dev, chunk)
    assert (ep.kind, ep.start_s, ep.end_s) == ("deceleration", 25.0, 43.0)
    assert ep.lost_fraction == pytest.approx(6.0 / 18.0)


def test_a_gap_counts_the_same_before_and_after_a_run() -> None:
    lead = np.zeros(N)
    lead[at(25.0):at(31.0)] = np.nan
    lead[at(31.0):at(43.0)] = 30.0
    trail = np.zeros(N)
    trail[at(25.0):at(37.0)] = 30.0
    trail[at(37.0):at(43.0)] = np.nan
    (a,), (b,) = run(lead), run(trail)
    assert (a.start_s, a.end_s, a.lost_fraction) == (b.start_s, b.end_s, b.lost_fraction) == (25.0, 43.0, 6.0 / 18.0)


def test_a_long_gap_still_ends_a_run_and_is_not_counted() -> None:
    dev = np.zeros(N)
    dev[at(25.0):at(45.0)] = np.nan  # 20 s > the 15 s that ends a run
    dev[at(45.0):at(57.0)] = -30.0
    assert run(dev) == []
