"""Deceleration typing on the synthetic type grid (issue 11, defect 4): >= 0.85 of matched
decelerations typed right; the ominous confusions bounded; prolonged is prolonged whatever its timing."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from fetal_monitor_station.analysis.offline import analyse_trace
from fetal_monitor_station.sources.synthetic import SyntheticSpec, generate
from fetal_monitor_station.sources.synthetic_grid import (
    MISSED,
    decel_type_grid,
    type_accuracy,
    type_confusion,
)
from fetal_monitor_station.trace import SAMPLE_HZ, Trace


@pytest.fixture(scope="module")
def confusion() -> Counter[tuple[str, str]]:
    total: Counter[tuple[str, str]] = Counter()
    for spec in decel_type_grid():
        trace, truth = generate(spec)
        total += type_confusion(analyse_trace(trace, with_alarms=False), truth)
    return total


def recall(conf: Counter[tuple[str, str]], kind: str) -> float:
    matched = sum(v for (t, g), v in conf.items() if t == kind and g != MISSED)
    return conf[(kind, kind)] / matched


@pytest.mark.slow
def test_type_accuracy_on_the_grid(confusion: Counter[tuple[str, str]]) -> None:
    assert type_accuracy(confusion) >= 0.85, confusion
    assert recall(confusion, "late") >= 0.85, confusion  # late decelerations are the ominous kind
    assert recall(confusion, "prolonged") >= 0.8, confusion
    assert confusion[("prolonged", "early")] + confusion[("prolonged", "late")] <= 1, confusion
    # shallow, gradual early decelerations in variable traces used to read as abrupt (19 of 101 variable
    # with the fall timed between 20 % and 80 % of the depth)
    assert recall(confusion, "early") >= 0.9, confusion
    assert confusion[("early", "variable")] <= 10, confusion
    assert recall(confusion, "variable") >= 0.95, confusion


def test_a_prolonged_deceleration_cut_by_a_signal_gap_is_one_prolonged_deceleration() -> None:
    """A 20-s gap (> the 15 s that ends a run) in the middle of a 4-min deceleration used to give two
    short decelerations typed late/variable."""
    trace, truth = generate(SyntheticSpec(duration_s=2400.0, seed=31, variability_bpm=10.0,
                                          decel_types=("prolonged",), decel_every=4, accelerations_per_hour=0.0))
    # (one in the first 10 min has no baseline before it to be measured against: left out)
    prolonged = [d for d in truth.decelerations if d.type == "prolonged" and d.start_s > 600.0]
    assert len(prolonged) == 2
    fhr = trace.fhr1_bpm.copy()
    for d in prolonged:
        mid = int((d.start_s + d.end_s) / 2 * SAMPLE_HZ)
        fhr[mid: mid + 20 * SAMPLE_HZ] = np.nan
    doc = analyse_trace(Trace.from_arrays(fhr, toco=trace.toco), with_alarms=False)
    for d in prolonged:
        inside = [e for e in doc["decelerations"] if e["end_s"] > d.start_s and e["start_s"] < d.end_s]
        assert [e["type"] for e in inside] == ["prolonged"], inside
