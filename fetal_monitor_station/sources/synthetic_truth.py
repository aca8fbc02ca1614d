"""Expected classification of a synthetic trace, and scoring an analysis against its truth."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..analysis.classify import ClassificationTracker, MinuteFeatures
from ..analysis.events import Episode
from ..analysis.metrics import baseline_rmsd, event_scores, match_events
from ..trace import SAMPLE_HZ
from .synthetic import GroundTruth

SPM = 60 * SAMPLE_HZ
MIN_VALID_SHARE = 2 / 3  # FHRMA drops events with more than 1/3 signal loss


def expected_classes(truth: GroundTruth) -> list[tuple[float, str, str]]:
    """(minute end s, FIGO, NICHD) per minute, from the truth fed to the same rules (the tracker's
    own rules: a consistency check of the pipeline, not an independent truth; that one is
    tests/fetal_monitor_station/analysis/test_classification_truth.py)."""
    spec = truth.spec
    tracker = ClassificationTracker(antepartum=spec.contraction_interval_s is None,
                                    preterm=spec.gestation_weeks < 32)
    episodes: list[Episode] = sorted(truth.accelerations + truth.decelerations + truth.contractions,
                                     key=lambda e: e.end_s)
    k = 0
    out = []
    n_min = truth.baseline_bpm.size // SPM
    for m in range(n_min):
        t0, t1 = m * 60.0, (m + 1) * 60.0
        while k < len(episodes) and episodes[k].end_s <= t1:
            tracker.add_episode(episodes[k])
            k += 1
        sin = any(s.start_s <= t0 and t1 <= s.end_s for s in truth.sinusoidal)
        band = float(truth.variability_bpm[m]) if m < truth.variability_bpm.size else None
        lost = truth.lost[m * SPM:(m + 1) * SPM].mean() > 0.75
        tracker.add_minute(MinuteFeatures(t0, None if lost else float(truth.baseline_bpm[m * SPM:(m + 1) * SPM].mean()),
                                          None if lost else band, sin))
        c = tracker.classify(t1)
        out.append((t1, c.figo, c.nichd))
    return out


def _mostly_valid(e: dict[str, Any]) -> bool:
    return float(e["n_valid"]) >= MIN_VALID_SHARE * (float(e["end_s"]) - float(e["start_s"])) * SAMPLE_HZ


def _neutralise(found: list[dict[str, Any]], ref: list[tuple[float, float]],
                excluded: tuple[Episode, ...]) -> list[dict[str, Any]]:
    """Leave out detections of excluded truth events (unless they also match a kept one)."""
    if not excluded:
        return found
    iv = _intervals(found)
    matched = {j for _, j in match_events(ref, iv)}
    gone = {j for _, j in match_events([(e.start_s, e.end_s) for e in excluded], iv)} - matched
    return [f for j, f in enumerate(found) if j not in gone]


def _intervals(items: list[dict[str, Any]]) -> list[tuple[float, float]]:
    return [(float(d["start_s"]), float(d["end_s"])) for d in items]


def score(doc: dict[str, Any], truth: GroundTruth) -> dict[str, float]:
    """Baseline RMSD, event F1 (conventional), deceleration-type accuracy, class agreement."""
    base = np.array([np.nan if b is None else b for b in doc["baseline_bpm"]], dtype=np.float64)
    valid = ~truth.lost & ~truth.artefact
    # events: drop detections with > 1/3 signal loss, as FHRMA does
    ref_acc = [(e.start_s, e.end_s) for e in truth.accelerations]
    ref_dec = [(e.start_s, e.end_s) for e in truth.decelerations]
    accs = _neutralise([a for a in doc["accelerations"] if _mostly_valid(a)], ref_acc, truth.excluded)
    decs = _neutralise([d for d in doc["decelerations"] if _mostly_valid(d)], ref_dec, truth.excluded)
    acc = event_scores(ref_acc, _intervals(accs))
    dec = event_scores(ref_dec, _intervals(decs))
    pairs = match_events(ref_dec, _intervals(decs))
    typed = [truth.decelerations[i].type == decs[j].get("type") for i, j in pairs]
    expected = expected_classes(truth)
    got: dict[int, tuple[str, str]] = {}
    current = ("indeterminate", "indeterminate")
    events = sorted(doc["classification"], key=lambda c: c["window_end_s"])
    ci = 0
    for m, (t1, _, _) in enumerate(expected):
        while ci < len(events) and events[ci]["window_end_s"] <= t1 + 1e-6:
            current = (events[ci]["figo"], events[ci]["nichd"])
            ci += 1
        got[m] = current
    # every minute the truth can classify counts; "indeterminate" from the analysis is a disagreement
    both = [(e, got[m]) for m, e in enumerate(expected) if e[1] != "indeterminate"]
    figo_agree = float(np.mean([e[1] == g[0] for e, g in both])) if both else float("nan")
    nichd_agree = float(np.mean([e[2] == g[1] for e, g in both])) if both else float("nan")
    return {
        "baseline_rmsd_bpm": baseline_rmsd(base, truth.baseline_bpm, valid),
        "acc_f1": acc["f1"], "dec_f1": dec["f1"],
        "n_acc_truth": float(len(ref_acc)), "n_dec_truth": float(len(ref_dec)),
        "type_accuracy": float(np.mean(typed)) if typed else float("nan"),
        "figo_agreement": figo_agree, "nichd_agreement": nichd_agree,
    }
