from __future__ import annotations

import numpy as np

from fetal_monitor_station.sources.synthetic import Span, SyntheticSpec, generate
from fetal_monitor_station.sources.synthetic_truth import expected_classes
from fetal_monitor_station.trace import SAMPLE_HZ


def test_same_seed_same_trace_and_truth() -> None:
    spec = SyntheticSpec(duration_s=1200.0, seed=3, decel_types=("late",), signal_loss_fraction=0.1)
    a, ta = generate(spec)
    b, tb = generate(spec)
    assert np.array_equal(a.fhr1_bpm, b.fhr1_bpm, equal_nan=True)
    assert ta.decelerations == tb.decelerations
    c, _ = generate(SyntheticSpec(duration_s=1200.0, seed=4))
    assert not np.array_equal(a.fhr1_bpm, c.fhr1_bpm, equal_nan=True)


def test_truth_is_consistent_with_the_trace() -> None:
    spec = SyntheticSpec(duration_s=3600.0, seed=5, decel_types=("early", "late", "variable"),
                         signal_loss_fraction=0.3, prolonged=(Span(2000.0, 2300.0, 40.0),))
    trace, truth = generate(spec)
    assert len(trace) == 3600 * SAMPLE_HZ == truth.baseline_bpm.size
    assert 0.29 <= float(np.isnan(trace.fhr1_bpm).mean()) <= 0.33
    assert {d.type for d in truth.decelerations} <= {"early", "late", "variable", "prolonged"}
    for d in truth.decelerations:
        assert 0 <= d.start_s < d.peak_s < d.end_s <= spec.duration_s
        if d.type == "late":
            assert d.contraction_peak_s is not None and d.peak_s > d.contraction_peak_s
        if d.type == "variable":
            assert d.peak_s - d.start_s < 30.0


def test_artefacts_and_episodes() -> None:
    spec = SyntheticSpec(duration_s=1800.0, seed=9, with_mhr=True, mhr_capture=(Span(300, 400),),
                         halving=(Span(600, 660),), tachycardia=(Span(900, 1700, 175.0),))
    trace, truth = generate(spec)
    t = trace.times_s()
    cap = (t >= 300) & (t < 400)
    assert np.nanmax(np.abs(trace.fhr1_bpm[cap] - trace.mhr_bpm[cap])) < 3.0
    half = (t >= 600) & (t < 660)
    assert np.nanmedian(trace.fhr1_bpm[half]) < 80.0
    assert truth.artefact[cap].all() and truth.artefact[half].all()
    assert truth.baseline_bpm[int(1300 * SAMPLE_HZ)] > 170.0


def test_expected_classes_follow_the_truth() -> None:
    _, normal = generate(SyntheticSpec(duration_s=2400.0, seed=1))
    assert expected_classes(normal)[-1][1:] == ("normal", "I")
    _, brady = generate(SyntheticSpec(duration_s=2400.0, seed=1, baseline_bpm=92.0))
    assert expected_classes(brady)[-1][1] == "pathological"
