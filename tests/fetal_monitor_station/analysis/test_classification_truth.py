"""FIGO classification against a truth the analysis did not compute (issue 11, honest measurement).

The truth per minute comes from what the generator was told to put in (baseline level and its
episodes, variability band, which decelerations go with which contractions), through a minimal
FIGO 2015 rule written here, not through `ClassificationTracker`. Minutes where the analysis says
"indeterminate" count as disagreement; only the minutes next to a change of the truth (where
FIGO's own windows make the switch time a matter of definition) are left out."""

from __future__ import annotations

import pytest

from fetal_monitor_station.analysis.offline import analyse_trace
from fetal_monitor_station.sources.synthetic import Span, SyntheticSpec, generate

MARGIN_MIN = 6  # minutes left out on each side of a change of the true class
WARMUP_MIN = 12  # FIGO assesses 10-min windows; the first ones have no history


def figo_truth(spec: SyntheticSpec, minute_end_s: float) -> str:
    """Minimal FIGO 2015 rule on the generator's parameters (decelerations with every contraction)."""
    level = spec.baseline_bpm
    for sp in spec.tachycardia + spec.bradycardia:
        if sp.start_s + 600.0 <= minute_end_s <= sp.end_s:  # FIGO: >= 10 min at the new level
            level = sp.level_bpm
    pathological = level < 100.0 or (spec.variability_bpm < 5.0 and minute_end_s > 50 * 60.0)  # reduced > 50 min
    repetitive_since = 0.0 if spec.decel_types and spec.decel_every == 1 else None
    if repetitive_since is not None and set(spec.decel_types) <= {"late", "prolonged"}:
        pathological |= minute_end_s - repetitive_since > 30 * 60.0 + 600.0  # > 30 min, seen in a 10-min window
    if pathological:
        return "pathological"
    normal = 110.0 <= level <= 160.0 and 5.0 <= spec.variability_bpm <= 25.0 and repetitive_since is None
    return "normal" if normal else "suspicious"


def class_per_minute(doc: dict, n_min: int) -> list[str]:  # type: ignore[type-arg]
    events = sorted(doc["classification"], key=lambda c: c["window_end_s"])
    out, current, k = [], "indeterminate", 0
    for m in range(n_min):
        t1 = (m + 1) * 60.0
        while k < len(events) and events[k]["window_end_s"] <= t1 + 1e-6:
            current = events[k]["figo"]
            k += 1
        out.append(current)
    return out


CASES = [
    SyntheticSpec(duration_s=3600.0, seed=61, variability_bpm=12.0, accelerations_per_hour=6.0),
    SyntheticSpec(duration_s=3600.0, seed=62, variability_bpm=15.0, decel_types=("late",)),
    SyntheticSpec(duration_s=3600.0, seed=63, variability_bpm=12.0, decel_types=("variable",)),
    SyntheticSpec(duration_s=3600.0, seed=64, variability_bpm=12.0, tachycardia=(Span(900.0, 2700.0, 172.0),)),
    SyntheticSpec(duration_s=3600.0, seed=65, variability_bpm=3.0, accelerations_per_hour=0.0),
]


@pytest.mark.slow
@pytest.mark.parametrize("spec", CASES, ids=["normal", "late", "variable", "tachycardia", "reduced_var"])
def test_figo_class_agrees_with_an_independent_truth(spec: SyntheticSpec) -> None:
    trace, _ = generate(spec)
    n_min = int(spec.duration_s // 60)
    got = class_per_minute(analyse_trace(trace, with_alarms=False), n_min)
    truth = [figo_truth(spec, (m + 1) * 60.0) for m in range(n_min)]
    changes = [m for m in range(1, n_min) if truth[m] != truth[m - 1]]
    judged = [m for m in range(WARMUP_MIN, n_min) if all(abs(m - c) > MARGIN_MIN for c in changes)]
    agree = sum(got[m] == truth[m] for m in judged) / len(judged)  # indeterminate = disagreement
    assert agree >= 0.9, [(m, truth[m], got[m]) for m in judged if got[m] != truth[m]]
