"""Patterns beyond the grid: sinusoidal, tachycardia, bradycardia, prolonged deceleration, tachysystole."""

from __future__ import annotations

import numpy as np
import pytest

from fetal_monitor_station.analysis import StreamingAnalyzer
from fetal_monitor_station.analysis.offline import analyse_trace
from fetal_monitor_station.sources.synthetic import Span, SyntheticSpec, generate
from fetal_monitor_station.sources.synthetic_truth import score
from fetal_monitor_station.trace import SAMPLE_HZ


def classes(doc: dict) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    return {(c["figo"], c["nichd"]) for c in doc["classification"]}


def raised(doc: dict) -> set[str]:  # type: ignore[type-arg]
    return {a["kind"] for a in doc["alarms"] if a["change"] == "raised"}


@pytest.mark.slow
def test_sinusoidal_pattern_becomes_category_iii() -> None:
    trace, _ = generate(SyntheticSpec(duration_s=3600.0, seed=3, sinusoidal=(Span(600.0, 3300.0, 10.0),),
                                      accelerations_per_hour=0.0))
    doc = analyse_trace(trace)
    assert ("pathological", "III") in classes(doc)
    assert "pathological_classification" in raised(doc)


@pytest.mark.slow
@pytest.mark.parametrize(("span", "alarm", "figo"), [
    (Span(900.0, 2700.0, 172.0), "tachycardia", "suspicious"),
    (Span(900.0, 2700.0, 95.0), "bradycardia", "pathological"),
])
def test_tachycardia_and_bradycardia_episodes(span: Span, alarm: str, figo: str) -> None:
    key = "tachycardia" if span.level_bpm > 140 else "bradycardia"
    spec = SyntheticSpec(duration_s=3600.0, seed=4, **{key: (span,)})  # type: ignore[arg-type]
    trace, truth = generate(spec)
    doc = analyse_trace(trace)
    assert alarm in raised(doc)
    assert figo in {c["figo"] for c in doc["classification"]}
    # a change of level is adopted ~4-5 min after it starts (both halves of the +/- 5 min window)
    assert score(doc, truth)["baseline_rmsd_bpm"] < 0.45 * abs(span.level_bpm - spec.baseline_bpm)


@pytest.mark.slow
def test_prolonged_deceleration_over_five_minutes_is_pathological() -> None:
    trace, _ = generate(SyntheticSpec(duration_s=3000.0, seed=6, prolonged=(Span(1500.0, 1860.0, 45.0),)))
    doc = analyse_trace(trace)
    prolonged = [d for d in doc["decelerations"] if d["type"] == "prolonged"]
    assert len(prolonged) == 1 and prolonged[0]["end_s"] - prolonged[0]["start_s"] > 300.0
    assert any(c["figo"] == "pathological" for c in doc["classification"])


@pytest.mark.parametrize(("start_s", "end_s"), [(0.0, 200.0), (30.0, 240.0), (60.0, 300.0)])
def test_a_deceleration_in_the_first_minutes_is_not_taken_for_the_baseline(start_s: float, end_s: float) -> None:
    """The first baseline used to come from the first 5 min alone, so a 3-4 min deceleration there
    became the level (~100 bpm for a 140-bpm fetus) and was never reported."""
    trace, truth = generate(SyntheticSpec(duration_s=1800.0, seed=1, prolonged=(Span(start_s, end_s, 40.0),),
                                          contraction_interval_s=None, accelerations_per_hour=0.0))
    doc = analyse_trace(trace, with_alarms=False)
    base = np.array([np.nan if b is None else b for b in doc["baseline_bpm"]], float)
    first = slice(0, int(end_s * SAMPLE_HZ))
    assert np.nanmax(np.abs(base[first] - truth.baseline_bpm[first])) < 4.0
    early = [d for d in doc["decelerations"] if d["start_s"] < end_s]
    assert [d["type"] for d in early] == ["prolonged"], early
    assert early[0]["start_s"] <= start_s + 15.0 and early[0]["end_s"] >= end_s - 15.0


@pytest.mark.parametrize(("interval_s", "expected"), [(100.0, True), (180.0, False)])
def test_tachysystole(interval_s: float, expected: bool) -> None:
    trace, _ = generate(SyntheticSpec(duration_s=3000.0, seed=7, contraction_interval_s=interval_s))
    an = StreamingAnalyzer()
    for s in trace.samples():
        an.push(s)
    snap = an.snapshot()
    assert snap.tachysystole is expected
    assert snap.contractions_per_10min == pytest.approx(600.0 / interval_s, abs=1.5)
