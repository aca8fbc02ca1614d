"""How much of our FHRMA baseline figure is owed to choosing the windows on the same 66 files.

`python -m bench.ctg_fhrma_heldout [--data DIR]` reads the FHRMA data as bench.ctg_fhrma does. The
baseline's two windows (`lookback_s`, `lookahead_s` of AnalysisConfig) were chosen on the 66
FHRMA training recordings, and `bench.ctg_fhrma` scores them on those same files. Here every
configuration of a small grid around the chosen one is run on every file once; then, leaving
each file out in turn, the configuration with the best median RMSD on the other 65 is picked
and scored on the file left out (leave-one-out cross-validation of the choice). The held-out
median is compared with the in-sample median of the shipped defaults (a ratio) and with the
best of the three published methods. The reference here is the consensus of the three methods
(median baseline; events >= 2 found); metrics as in bench.ctg_fhrma.
"""

from __future__ import annotations

import sys
import time
from collections import Counter

import numpy as np

from bench.ctg_data import parser
from bench.ctg_fhrma import METHODS, dataset, load_files, score_ours
from fetal_monitor_station.analysis.config import CHANNEL_AUTO, AnalysisConfig
from fetal_monitor_station.analysis.metrics import baseline_rmsd
from fetal_monitor_station.analysis.offline import analyse_trace

LOOKBACK_S = (600.0, 900.0, 1200.0, 1800.0)
LOOKAHEAD_S = (180.0, 300.0, 450.0)
DEFERRAL_S = 15 * 60.0  # AnalysisConfig: history covers both windows plus 15 min
METRICS = ("rmsd", "madi", "acc_f1", "dec_f1")


def config(lookback_s: float, lookahead_s: float) -> AnalysisConfig:
    return AnalysisConfig(fhr_channel=CHANNEL_AUTO, lookback_s=lookback_s, lookahead_s=lookahead_s,
                          history_s=max(AnalysisConfig().history_s, lookback_s + lookahead_s + DEFERRAL_S))


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    data = dataset(args.data)
    t0 = time.perf_counter()
    files = load_files(data)
    default = (AnalysisConfig().lookback_s, AnalysisConfig().lookahead_s)
    grid = [(b, a) for b in LOOKBACK_S for a in LOOKAHEAD_S]
    assert default in grid, "the grid must hold the shipped defaults"
    print(f"using FHRMA data at {data}: {len(files)} recordings, {len(grid)} window pairs "
          f"(lookback x lookahead, s), defaults {default}")
    # scores[g][i][metric]: configuration g on file i
    scores: list[list[dict[str, float]]] = []
    for b, a in grid:
        cfg = config(b, a)
        scores.append([score_ours(f, analyse_trace(f.trace, cfg, with_alarms=False)) for f in files])
        print(f"  lookback {b:5.0f} lookahead {a:4.0f}: median RMSD "
              f"{np.nanmedian([s['rmsd'] for s in scores[-1]]):.2f} bpm")
    rmsd = np.array([[s["rmsd"] for s in per_file] for per_file in scores])  # configs x files
    held: dict[str, list[float]] = {m: [] for m in METRICS}
    picks: Counter[tuple[float, float]] = Counter()
    for i in range(len(files)):
        others = np.delete(rmsd, i, axis=1)
        g = int(np.argmin(np.nanmedian(others, axis=1)))
        picks[grid[g]] += 1
        for m in METRICS:
            held[m].append(scores[g][i][m])
    insample = {m: float(np.nanmedian([s[m] for s in scores[grid.index(default)]])) for m in METRICS}
    heldout = {m: float(np.nanmedian(v)) for m, v in held.items()}
    best_on_all = grid[int(np.argmin(np.nanmedian(rmsd, axis=1)))]
    method_rmsd = min(float(np.nanmedian([baseline_rmsd(
        f.bases[k], np.mean([f.bases[j] for j in range(3) if j != k], axis=0), f.eval_mask) for f in files]))
        for k in range(len(METHODS)))
    print(f"best pair on all 66 files: {best_on_all}; left-one-out picks: "
          + ", ".join(f"{p} x{n}" for p, n in picks.most_common()))
    for m in METRICS:
        print(f"  {m:7s} in-sample (defaults) {insample[m]:.3f}   held-out {heldout[m]:.3f}")
    ratio = heldout["rmsd"] / insample["rmsd"]
    print(f"RESULT ctg_fhrma_heldout files={len(files)} configs={len(grid)} "
          f"insample_rmsd_bpm={insample['rmsd']:.2f} heldout_rmsd_bpm={heldout['rmsd']:.2f} "
          f"ratio_heldout_to_insample={ratio:.3f} best_method_rmsd_bpm={method_rmsd:.2f} "
          f"heldout_madi_pct={100 * heldout['madi']:.2f} heldout_acc_f1={heldout['acc_f1']:.3f} "
          f"heldout_dec_f1={heldout['dec_f1']:.3f} default_picked={picks[default]}/{len(files)} "
          f"elapsed_s={time.perf_counter() - t0:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
