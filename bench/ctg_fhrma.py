"""Our baseline and events vs the three published methods' outputs shipped with FHRMA.

`python -m bench.ctg_fhrma [--data DIR]` reads `fhrma/FHRMAdataset` under the CTG data directory
(66 training recordings + A_std / MD_std / W_std.mat: Ayres-de-Campos, Maeda, Wrobel re-coded by
FHRMA; exits 1 when they or scipy, which reads the .mat files, are missing). No expert annotations
are available, so each method M is compared like for like: M and ours are both scored against
exactly the reference M faces, the mean baseline of the other two methods and the events both of
them found. Metrics after FHRMA statscompare.m: RMSD, MADI, F1 (conventional; FHRMA's F is half).
Medians over files.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.ctg_data import FHRMA_SUBDIR, data_root, parser, require
from fetal_monitor_station.analysis.baseline import moving_median_baseline
from fetal_monitor_station.analysis.metrics import baseline_rmsd, event_scores, madi, match_events
from fetal_monitor_station.analysis.offline import analyse_trace
from fetal_monitor_station.sources.fhrma import read_fhr
from fetal_monitor_station.trace import SAMPLE_HZ, Trace

METHODS = ("A_std", "MD_std", "W_std")
Iv = list[tuple[float, float]]


def dataset(arg: Path | None) -> Path:
    """The FHRMA folder, its three method files and scipy, or exit 1 naming what is missing."""
    data = data_root(arg) / FHRMA_SUBDIR
    for m in METHODS:
        require(data / "analyses" / f"{m}.mat", f"FHRMA method outputs ({m}.mat)")
    require(data / "traindata", "FHRMA training recordings (traindata/)")
    try:
        import scipy.io  # noqa: F401
    except ImportError:
        print("cannot measure: scipy (reads the FHRMA .mat files) is not installed", file=sys.stderr)
        raise SystemExit(1) from None
    return data


def load_method(data_dir: Path, name: str) -> dict[str, dict[str, object]]:
    from scipy.io import loadmat

    data = loadmat(data_dir / "analyses" / f"{name}.mat", squeeze_me=True, struct_as_record=False)["data"]
    out = {}
    for d in data:
        def ev(x: object) -> Iv:
            a = np.asarray(x, dtype=float)
            if a.size < 2:
                return []
            return [(float(s) * 60, float(e) * 60) for s, e in a.reshape(-1, 2)]
        out[str(d.filename)] = {"baseline": np.asarray(d.baseline, float), "acc": ev(d.accelerations),
                                "dec": ev(d.decelerations)}
    return out


def keep(events: Iv, lost: np.ndarray) -> Iv:
    """FHRMA drops events with more than 1/3 signal loss."""
    out = []
    for s, e in events:
        seg = lost[int(s * SAMPLE_HZ): int(e * SAMPLE_HZ)]
        if seg.size and seg.mean() <= 1 / 3:
            out.append((s, e))
    return out


def agreed(a: Iv, b: Iv) -> Iv:
    return [a[i] for i, _ in match_events(a, b)]


def two_of_three(sets: list[Iv]) -> Iv:
    out: Iv = []
    for x in range(3):
        for y in range(x + 1, 3):
            for ev in agreed(sets[x], sets[y]):
                if not match_events([ev], out):
                    out.append(ev)
    return sorted(out)


@dataclass
class FhrmaFile:
    """One training recording with what every score needs."""

    name: str
    trace: Trace
    fhr: np.ndarray
    lost: np.ndarray
    eval_mask: np.ndarray
    bases: list[np.ndarray]  # the three methods' baselines
    consensus: np.ndarray  # their per-sample median
    events: dict[str, list[Iv]]  # "acc"/"dec" -> per method, events with <= 1/3 loss


def load_files(data_dir: Path) -> list[FhrmaFile]:
    methods = [load_method(data_dir, m) for m in METHODS]
    out = []
    for p in sorted((data_dir / "traindata").glob("train*.fhr")):
        if p.name not in methods[0]:
            continue
        raw = read_fhr(p)
        fhr = np.fmax(raw.fhr1_bpm, raw.fhr2_bpm)
        trace = Trace.from_arrays(fhr, toco=raw.toco, source=str(p))
        n = len(trace)
        lost = ~np.isfinite(fhr)
        eval_mask = ~lost
        eval_mask[max(0, n - 60 * SAMPLE_HZ):] = False  # FHRMA zeroes the last minute
        bases = [np.asarray(m[p.name]["baseline"], float)[:n] for m in methods]
        if any(b.size != n for b in bases):
            continue
        events = {kind: [keep(m[p.name][kind], lost) for m in methods] for kind in ("acc", "dec")}  # type: ignore[arg-type]
        out.append(FhrmaFile(p.name, trace, fhr, lost, eval_mask, bases, np.median(np.stack(bases), axis=0), events))
    return out


def reference(f: FhrmaFile, k: int | None) -> tuple[np.ndarray, dict[str, Iv]]:
    """What method `k` faces: the mean baseline of the other two and the events both found.
    k = None: the consensus of all three (median; events >= 2 found), for the window choice."""
    if k is None:
        return f.consensus, {kind: two_of_three(f.events[kind]) for kind in ("acc", "dec")}
    o = [j for j in range(3) if j != k]
    base = np.mean([f.bases[j] for j in o], axis=0)
    return base, {kind: agreed(f.events[kind][o[0]], f.events[kind][o[1]]) for kind in ("acc", "dec")}


def score(f: FhrmaFile, base: np.ndarray, acc: Iv, dec: Iv, ref: tuple[np.ndarray, dict[str, Iv]]
          ) -> dict[str, float]:
    f_eval = np.where(f.eval_mask, f.fhr, np.nan)
    out = {"rmsd": baseline_rmsd(base, ref[0], f.eval_mask), "madi": madi(base, ref[0], f_eval)}
    for kind, mine in (("acc", acc), ("dec", dec)):
        out[f"{kind}_f1"] = event_scores(ref[1][kind], mine)["f1"]
    return out


def score_ours(f: FhrmaFile, doc: dict[str, Any], k: int | None = None) -> dict[str, float]:
    """Our baseline and events (from an analyse_trace document) against `reference(f, k)`."""
    ours = np.array([np.nan if b is None else b for b in doc["baseline_bpm"]], float)
    acc, dec = (keep([(d["start_s"], d["end_s"]) for d in doc[key]], f.lost)
                for key in ("accelerations", "decelerations"))
    return score(f, ours, acc, dec, reference(f, k))


def main(argv: Sequence[str] | None = None) -> int:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    data = dataset(args.data)
    print(f"using FHRMA data at {data} (training recordings, outputs of {', '.join(METHODS)})")
    t0 = time.perf_counter()
    rows: dict[str, list[float]] = {}

    def add(key: str, v: float) -> None:
        if np.isfinite(v):
            rows.setdefault(key, []).append(v)

    files = load_files(data)
    if not files:
        print(f"cannot measure: no FHRMA recording matched the method files in {data}", file=sys.stderr)
        return 1
    for f in files:
        doc = analyse_trace(f.trace, with_alarms=False)
        mm = moving_median_baseline(f.fhr, 300 * SAMPLE_HZ)
        for k, name in enumerate(METHODS):
            ref = reference(f, k)
            for metric, value in score_ours(f, doc, k).items():
                add(f"ours_vs_{name}_{metric}", value)
            for metric, value in score(f, f.bases[k], f.events["acc"][k], f.events["dec"][k], ref).items():
                add(f"{name}_{metric}", value)
            add(f"mm5_vs_{name}_rmsd", baseline_rmsd(mm, ref[0], f.eval_mask))
    med = {k: float(np.median(v)) for k, v in rows.items()}
    print(f"files={len(files)} (medians over files); each row: method M vs the mean of the other two "
          "(events both found), and ours / the 5-min moving median against exactly that reference")
    metrics = ("rmsd", "madi", "acc_f1", "dec_f1")
    better = {m: True for m in metrics}
    parts = []
    for name in METHODS:
        o = {m: med[f"ours_vs_{name}_{m}"] for m in metrics}
        t = {m: med[f"{name}_{m}"] for m in metrics}
        print(f"  vs ref of {name:6s}: RMSD ours {o['rmsd']:.2f} / {name} {t['rmsd']:.2f} / mm5 "
              f"{med[f'mm5_vs_{name}_rmsd']:.2f} bpm; MADI ours {100 * o['madi']:.2f} / {100 * t['madi']:.2f} %; "
              f"accF1 ours {o['acc_f1']:.3f} / {t['acc_f1']:.3f}; decF1 ours {o['dec_f1']:.3f} / {t['dec_f1']:.3f}")
        for m in metrics:
            lower_is_better = m in ("rmsd", "madi")
            better[m] &= o[m] < t[m] if lower_is_better else o[m] > t[m]
        parts.append(f"{name}_ours_rmsd={o['rmsd']:.2f} {name}_rmsd={t['rmsd']:.2f} "
                     f"{name}_ours_acc_f1={o['acc_f1']:.3f} {name}_acc_f1={t['acc_f1']:.3f} "
                     f"{name}_ours_dec_f1={o['dec_f1']:.3f} {name}_dec_f1={t['dec_f1']:.3f}")
    print(f"RESULT ctg_fhrma files={len(files)} {' '.join(parts)} "
          f"better_than_each_rmsd={better['rmsd']} better_than_each_acc_f1={better['acc_f1']} "
          f"better_than_each_dec_f1={better['dec_f1']} elapsed_s={time.perf_counter() - t0:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
