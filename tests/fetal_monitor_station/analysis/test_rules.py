"""Classification rules on hand-built features, and the FHRMA metrics."""

from __future__ import annotations

import numpy as np

from fetal_monitor_station.analysis.classify import ClassificationTracker, MinuteFeatures
from fetal_monitor_station.analysis.detect import type_deceleration
from fetal_monitor_station.analysis.events import Episode
from fetal_monitor_station.analysis.metrics import event_scores, madi, match_events


def run(minutes: int, baseline: float, band: float, episodes: tuple[Episode, ...] = (), sin: bool = False):  # type: ignore[no-untyped-def]
    tr = ClassificationTracker()
    for e in episodes:
        tr.add_episode(e)
    c = None
    for m in range(minutes):
        tr.add_minute(MinuteFeatures(m * 60.0, baseline, band, sin))
        c = tr.classify((m + 1) * 60.0)
    return c


def test_normal_suspicious_pathological() -> None:
    assert (run(20, 140, 12).figo, run(20, 140, 12).nichd) == ("normal", "I")
    assert run(20, 170, 12).figo == "suspicious"
    assert run(20, 95, 12).figo == "pathological"
    assert run(20, 140, 3).figo == "suspicious"
    assert run(55, 140, 3).figo == "pathological"  # reduced variability > 50 min
    assert run(25, 140, 10, sin=True).nichd == "III"  # sinusoidal >= 20 min


def test_recurrent_late_with_absent_variability_is_category_iii() -> None:
    eps = []
    for k in range(10):
        acme = 60.0 + 180.0 * k
        eps.append(Episode("contraction", acme - 40, acme + 40, acme, 40.0))
        eps.append(Episode("deceleration", acme + 5, acme + 90, acme + 45, -20.0, 140.0, "late", acme))
    c = run(30, 140, 1.5, tuple(eps))
    assert c.nichd == "III"
    assert run(30, 140, 12, tuple(eps)).nichd == "II"


def test_deceleration_typing() -> None:
    c = Episode("contraction", 100.0, 180.0, 140.0, 40.0)
    early = Episode("deceleration", 100.0, 180.0, 141.0, -20.0)
    late = Episode("deceleration", 150.0, 240.0, 190.0, -20.0)
    variable = Episode("deceleration", 120.0, 160.0, 130.0, -40.0)
    prolonged = Episode("deceleration", 100.0, 400.0, 130.0, -40.0)
    assert [type_deceleration(d, [c], 180.0).type for d in (early, late, variable, prolonged)] == \
        ["early", "late", "variable", "prolonged"]


def test_matching_rule_and_f_measures() -> None:
    ref = [(0.0, 30.0), (100.0, 130.0)]
    assert match_events(ref, [(26.0, 60.0)]) == []  # overlap of 4 s is not > 5 s
    assert match_events(ref, [(20.0, 60.0)]) == [(0, 0)]
    s = event_scores(ref, [(20.0, 60.0), (300.0, 330.0)])
    assert s["f1"] == 0.5 and s["fmeasure_fhrma"] == 0.25


def test_madi_is_zero_for_identical_baselines_and_grows_apart() -> None:
    fhr = 140 + np.sin(np.arange(4000) / 7.0) * 5
    base = np.full(4000, 140.0)
    assert madi(base, base, fhr) == 0.0
    assert 0.5 < madi(base, base + 20, fhr) < 1.0


def test_nst_reactivity_antepartum() -> None:
    tr = ClassificationTracker(antepartum=True)
    tr.add_episode(Episode("acceleration", 300.0, 340.0, 320.0, 20.0))
    tr.add_episode(Episode("acceleration", 900.0, 940.0, 920.0, 22.0))
    for m in range(20):
        tr.add_minute(MinuteFeatures(m * 60.0, 140.0, 12.0))
    assert tr.classify(1200.0).nst == "reactive"
    quiet = ClassificationTracker(antepartum=True)
    states = []
    for m in range(85):
        quiet.add_minute(MinuteFeatures(m * 60.0, 140.0, 12.0))
        states.append(quiet.classify((m + 1) * 60.0).nst)
    assert states[10] == "pending" and states[45] == "atypical" and states[-1] == "non_reactive"
    assert ClassificationTracker().classify(60.0).nst is None
