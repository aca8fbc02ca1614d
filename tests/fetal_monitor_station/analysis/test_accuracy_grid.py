"""Accuracy of the streaming analysis on synthetic traces with ground truth (a grid).

F-measures are the conventional F1 = 2PR/(P+R), pooled over the grid, with FHRMA's matching
rule (overlap by more than 5 s, one to one); FHRMA's own F is half of it.
"""

from __future__ import annotations

import numpy as np
import pytest

from fetal_monitor_station.analysis.offline import analyse_trace
from fetal_monitor_station.sources.synthetic import SyntheticSpec, generate
from fetal_monitor_station.sources.synthetic_truth import score

GRID = [
    SyntheticSpec(duration_s=2400.0, seed=100 + k, variability_bpm=var, decel_types=decs,
                  signal_loss_fraction=loss, accelerations_per_hour=acc)
    for k, (var, decs, loss, acc) in enumerate(
        (var, decs, loss, acc)
        for var in (3.0, 12.0, 20.0)
        for decs, acc in (((), 8.0), (("early", "late", "variable"), 4.0), (("late",), 2.0))
        for loss in (0.0, 0.3))
]


@pytest.fixture(scope="module")
def results() -> list[dict[str, float]]:
    out = []
    for spec in GRID:
        trace, truth = generate(spec)
        out.append(score(analyse_trace(trace, with_alarms=False), truth))
    return out


@pytest.mark.slow
def test_baseline_rmsd_is_small_everywhere(results: list[dict[str, float]]) -> None:
    rmsd = [r["baseline_rmsd_bpm"] for r in results]
    assert max(rmsd) < 3.0
    assert float(np.median(rmsd)) < 1.0


@pytest.mark.slow
def test_event_f1_and_types(results: list[dict[str, float]]) -> None:
    dec_f1 = np.array([r["dec_f1"] for r in results if r["n_dec_truth"] > 0])
    acc_f1 = np.array([r["acc_f1"] for r in results if r["n_acc_truth"] > 0])
    assert float(np.mean(dec_f1)) >= 0.85
    assert float(dec_f1.min()) >= 0.6
    assert float(np.mean(acc_f1)) >= 0.8
    types = [r["type_accuracy"] for r in results if np.isfinite(r["type_accuracy"])]
    assert float(np.mean(types)) >= 0.8


@pytest.mark.slow
def test_classification_agrees_with_the_truth(results: list[dict[str, float]]) -> None:
    figo = [r["figo_agreement"] for r in results if np.isfinite(r["figo_agreement"])]
    nichd = [r["nichd_agreement"] for r in results if np.isfinite(r["nichd_agreement"])]
    assert float(np.mean(figo)) >= 0.8
    assert float(np.mean(nichd)) >= 0.85
