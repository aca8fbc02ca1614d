"""Synthetic-grid accuracy of the station's CTG analysis: `python -m bench.ctg_accuracy`.

Grid: variability 3/12/20/30 bpm x deceleration mix (none, early+late+variable, late) x
signal loss 0/15/30 %, 40-min traces with ground truth. F1 = conventional 2PR/(P+R) with
FHRMA's matching rule (FHRMA's own F is half of it). The reference baseline is a centred
5-minute moving median.
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np

from fetal_monitor_station.analysis.baseline import moving_median_baseline
from fetal_monitor_station.analysis.events import DEC_TYPES
from fetal_monitor_station.analysis.metrics import baseline_rmsd
from fetal_monitor_station.analysis.offline import analyse_trace
from fetal_monitor_station.sources.synthetic import SyntheticSpec, generate
from fetal_monitor_station.sources.synthetic_grid import (
    MISSED,
    decel_type_grid,
    type_accuracy,
    type_confusion,
)
from fetal_monitor_station.sources.synthetic_truth import score
from fetal_monitor_station.trace import SAMPLE_HZ

MOVING_MEDIAN_S = 300


def grid() -> list[SyntheticSpec]:
    out: list[SyntheticSpec] = []
    for var in (3.0, 12.0, 20.0, 30.0):
        for decs, acc in (((), 8.0), (("early", "late", "variable"), 4.0), (("late",), 2.0)):
            for loss in (0.0, 0.15, 0.3):
                out.append(SyntheticSpec(duration_s=2400.0, seed=1000 + len(out), variability_bpm=var,
                                         decel_types=decs, signal_loss_fraction=loss, accelerations_per_hour=acc))
    return out


def type_grid() -> tuple[float, str]:
    """Deceleration typing on the type grid: accuracy and the confusion matrix (rows = truth)."""
    conf: Counter[tuple[str, str]] = Counter()
    for spec in decel_type_grid():
        trace, truth = generate(spec)
        conf += type_confusion(analyse_trace(trace, with_alarms=False), truth)
    cols = (*DEC_TYPES, MISSED)
    lines = ["| truth \\ reported | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for t in DEC_TYPES:
        lines.append(f"| {t} | " + " | ".join(str(conf[(t, c)]) for c in cols) + " |")
    return type_accuracy(conf), "\n".join(lines)


def main() -> None:
    t0 = time.perf_counter()
    grid_acc, matrix = type_grid()
    print(f"deceleration type grid ({len(decel_type_grid())} traces): accuracy {grid_acc:.3f}")
    print(matrix)
    rows, mm = [], []
    for spec in grid():
        trace, truth = generate(spec)
        rows.append(score(analyse_trace(trace, with_alarms=False), truth))
        ref = moving_median_baseline(trace.fhr1_bpm, MOVING_MEDIAN_S * SAMPLE_HZ)
        mm.append(baseline_rmsd(ref, truth.baseline_bpm, ~truth.lost & ~truth.artefact))
        r = rows[-1]
        print(f"var={spec.variability_bpm:4.0f} decs={'+'.join(spec.decel_types) or '-':22s} "
              f"loss={spec.signal_loss_fraction:.2f} rmsd={r['baseline_rmsd_bpm']:.2f} mm5={mm[-1]:.2f} "
              f"accF1={r['acc_f1']:.2f} decF1={r['dec_f1']:.2f} type={r['type_accuracy']:.2f} "
              f"figo={r['figo_agreement']:.2f} nichd={r['nichd_agreement']:.2f}")

    def mean(key: str, cond: str | None = None) -> float:
        vals = [r[key] for r in rows if (cond is None or r[cond] > 0) and np.isfinite(r[key])]
        return float(np.mean(vals))

    rmsd = float(np.median([r["baseline_rmsd_bpm"] for r in rows]))
    mm_rmsd = float(np.median(mm))
    print(f"RESULT ctg_accuracy traces={len(rows)} baseline_rmsd_bpm_median={rmsd:.2f} "
          f"acc_f1={mean('acc_f1', 'n_acc_truth'):.3f} dec_f1={mean('dec_f1', 'n_dec_truth'):.3f} "
          f"dec_type_accuracy={mean('type_accuracy'):.3f} figo_agreement={mean('figo_agreement'):.3f} "
          f"nichd_agreement={mean('nichd_agreement'):.3f} movmedian5_rmsd_bpm_median={mm_rmsd:.2f} "
          f"rmsd_ratio_vs_movmedian={rmsd / mm_rmsd:.2f} type_grid_accuracy={grid_acc:.3f} elapsed_s={time.perf_counter() - t0:.0f}")


if __name__ == "__main__":
    main()
