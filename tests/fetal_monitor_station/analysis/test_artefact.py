"""Artefact islands: short FHR stretches between dropouts, jumping away from the signal on both
sides (the maternal heart, half or double the rate), are no decelerations or accelerations."""

from __future__ import annotations

import numpy as np
import pytest

from fetal_monitor_station.analysis import StreamingAnalyzer
from fetal_monitor_station.analysis.artefact import artefact_islands
from fetal_monitor_station.analysis.offline import analyse_trace
from fetal_monitor_station.sources.synthetic import SyntheticSpec, generate
from fetal_monitor_station.trace import SAMPLE_HZ, Trace


def at(s: float) -> int:
    return int(s * SAMPLE_HZ)


def trace_with(level_bpm: float, gap_before_s: float = 5.0, length_s: float = 20.0) -> np.ndarray:
    fhr = np.full(at(120.0), 140.0)
    fhr[at(50.0 - gap_before_s):at(50.0)] = np.nan
    fhr[at(50.0):at(50.0 + length_s)] = level_bpm
    fhr[at(50.0 + length_s):at(55.0 + length_s)] = np.nan
    return fhr


@pytest.mark.parametrize("level", [70.0, 100.0, 180.0])
def test_a_short_stretch_jumping_away_between_two_gaps_is_an_island(level: float) -> None:
    mask = artefact_islands(trace_with(level))
    assert np.array_equal(np.flatnonzero(mask), np.arange(at(50.0), at(70.0)))


def test_what_is_not_an_island() -> None:
    assert not artefact_islands(trace_with(125.0)).any()  # 15 bpm away: could be the fetus
    assert not artefact_islands(trace_with(70.0, length_s=40.0)).any()  # 40 s: too long to be one
    entered = trace_with(70.0, gap_before_s=0.0)  # a recorded fall into it: a deceleration
    entered[at(40.0):at(50.0)] = np.linspace(140.0, 75.0, at(10.0))
    assert not artefact_islands(entered).any()
    edge = trace_with(70.0)[at(45.0):]  # no signal before the gap in the window: cannot judge
    assert not artefact_islands(edge[at(5.0):]).any()


def test_a_fragment_of_under_5_s_between_gaps_is_dropped_whatever_its_level() -> None:
    mask = artefact_islands(trace_with(140.0, length_s=3.0))
    assert np.array_equal(np.flatnonzero(mask), np.arange(at(50.0), at(53.0)))


def test_islands_in_a_trace_are_not_reported_as_decelerations() -> None:
    """Six 20-s stretches at half the rate between 5-s dropouts: before, each was a deceleration."""
    trace, _ = generate(SyntheticSpec(duration_s=2400.0, seed=41, variability_bpm=10.0, accelerations_per_hour=0.0,
                                      contraction_interval_s=None))
    fhr = trace.fhr1_bpm.copy()
    starts = [900.0 + 180.0 * i for i in range(6)]
    for s in starts:
        fhr[at(s - 5.0):at(s)] = np.nan
        fhr[at(s):at(s + 20.0)] = fhr[at(s):at(s + 20.0)] / 2.0
        fhr[at(s + 20.0):at(s + 25.0)] = np.nan
    doc = analyse_trace(Trace.from_arrays(fhr), with_alarms=False)
    near = [d for d in doc["decelerations"] if any(d["end_s"] > s - 10.0 and d["start_s"] < s + 30.0 for s in starts)]
    assert near == []
    base = np.array([np.nan if b is None else b for b in doc["baseline_bpm"]], float)
    assert abs(float(np.nanmedian(base[at(900.0):at(2000.0)])) - 140.0) < 5.0


def test_the_alarms_still_judge_what_came_in() -> None:
    """Islands are left out of the settled analysis only: `recent_fhr` (what the alarms judge) keeps
    them, as the live path (one sample at a time) does."""
    rng = np.random.default_rng(5)
    fhr = 140.0 + rng.normal(0.0, 2.0, at(600.0))
    fhr[at(495.0):at(500.0)] = np.nan
    fhr[at(500.0):at(520.0)] = 70.0
    fhr[at(520.0):at(525.0)] = np.nan
    an = StreamingAnalyzer()
    an.push_block(fhr)
    assert np.isnan(an._fhr.get(at(500.0), at(520.0))).all()  # the settled analysis dropped it
    assert np.array_equal(an.recent_fhr(fhr.size), fhr, equal_nan=True)
    assert np.array_equal(an.recent_fhr(at(120.0)), fhr[-at(120.0):], equal_nan=True)
