"""Our baseline and events vs the three published methods' outputs shipped with FHRMA.

`python -m bench.ctg_fhrma` reads /work/shared/data/ctg/fhrma when present (66 training
recordings + A_std / MD_std / W_std.mat: Ayres-de-Campos, Maeda, Wrobel re-coded by FHRMA).
No expert annotations are available, so the reference is the methods' consensus:
baseline = per-sample median of the three; events = those at least two of them found.
Each method is compared with the other two (mean baseline; events both others agree on).
Metrics after FHRMA statscompare.m: RMSD, MADI, F1 (conventional; FHRMA's F is half).
Medians over files.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fetal_monitor_station.analysis.baseline import moving_median_baseline
from fetal_monitor_station.analysis.metrics import baseline_rmsd, event_scores, madi, match_events
from fetal_monitor_station.analysis.offline import analyse_trace
from fetal_monitor_station.sources.fhrma import read_fhr
from fetal_monitor_station.trace import SAMPLE_HZ, Trace

DATA = Path("/work/shared/data/ctg/fhrma/FHRMAdataset")
METHODS = ("A_std", "MD_std", "W_std")
Iv = list[tuple[float, float]]


def load_method(name: str) -> dict[str, dict[str, object]]:
    from scipy.io import loadmat

    data = loadmat(DATA / "analyses" / f"{name}.mat", squeeze_me=True, struct_as_record=False)["data"]
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


def load_files() -> list[FhrmaFile]:
    methods = [load_method(m) for m in METHODS]
    out = []
    for p in sorted((DATA / "traindata").glob("train*.fhr")):
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


def score_ours(f: FhrmaFile, doc: dict[str, Any]) -> dict[str, float]:
    """Our baseline and events (from an analyse_trace document) against the consensus."""
    ours = np.array([np.nan if b is None else b for b in doc["baseline_bpm"]], float)
    f_eval = np.where(f.eval_mask, f.fhr, np.nan)
    out = {"rmsd": baseline_rmsd(ours, f.consensus, f.eval_mask), "madi": madi(ours, f.consensus, f_eval)}
    for kind, key in (("acc", "accelerations"), ("dec", "decelerations")):
        mine = keep([(d["start_s"], d["end_s"]) for d in doc[key]], f.lost)
        out[f"{kind}_f1"] = event_scores(two_of_three(f.events[kind]), mine)["f1"]
    return out


def main() -> int:
    if not (DATA / "analyses" / "A_std.mat").exists():
        print(f"FHRMA data not found at {DATA}: benchmark not run")
        print("RESULT ctg_fhrma data=absent")
        return 0
    print(f"using FHRMA data at {DATA} (66 training recordings, outputs of {', '.join(METHODS)})")
    t0 = time.perf_counter()
    rows: dict[str, list[float]] = {}

    def add(key: str, v: float) -> None:
        if np.isfinite(v):
            rows.setdefault(key, []).append(v)

    for f in load_files():
        for metric, value in score_ours(f, analyse_trace(f.trace, with_alarms=False)).items():
            add(f"ours_{metric}", value)
        mm = moving_median_baseline(f.fhr, 300 * SAMPLE_HZ)
        f_eval = np.where(f.eval_mask, f.fhr, np.nan)
        add("mm5_rmsd", baseline_rmsd(mm, f.consensus, f.eval_mask))
        add("mm5_madi", madi(mm, f.consensus, f_eval))
        for k, name in enumerate(METHODS):
            others = np.mean([f.bases[j] for j in range(3) if j != k], axis=0)
            add(f"{name}_rmsd", baseline_rmsd(f.bases[k], others, f.eval_mask))
            add(f"{name}_madi", madi(f.bases[k], others, f_eval))
            for kind in ("acc", "dec"):
                o = [f.events[kind][j] for j in range(3) if j != k]
                add(f"{name}_{kind}_f1", event_scores(agreed(o[0], o[1]), f.events[kind][k])["f1"])
    med = {k: float(np.median(v)) for k, v in rows.items()}
    print(f"files={len(rows.get('ours_rmsd', []))} (medians over files)")
    print("baseline vs consensus (ours, 5-min moving median) and each method vs mean of the other two:")
    for who in ("ours", "mm5", *METHODS):
        print(f"  {who:7s} RMSD={med[f'{who}_rmsd']:.2f} bpm  MADI={100 * med[f'{who}_madi']:.2f} %")
    print("event F1 (ours vs events >= 2 methods found; each method vs events the other two agree on):")
    for who in ("ours", *METHODS):
        print(f"  {who:7s} accF1={med[f'{who}_acc_f1']:.3f}  decF1={med[f'{who}_dec_f1']:.3f}")
    best_method_madi = min(med[f"{m}_madi"] for m in METHODS)
    best_method_rmsd = min(med[f"{m}_rmsd"] for m in METHODS)
    best_acc = max(med[f"{m}_acc_f1"] for m in METHODS)
    best_dec = max(med[f"{m}_dec_f1"] for m in METHODS)
    base_ok = med["ours_rmsd"] < best_method_rmsd
    ev_ok = med["ours_acc_f1"] >= best_acc and med["ours_dec_f1"] >= best_dec
    print(f"RESULT ctg_fhrma data=present files={len(rows['ours_rmsd'])} ours_rmsd_bpm={med['ours_rmsd']:.2f} "
          f"ours_madi_pct={100 * med['ours_madi']:.2f} best_method_rmsd_bpm={best_method_rmsd:.2f} "
          f"best_method_madi_pct={100 * best_method_madi:.2f} movmedian5_rmsd_bpm={med['mm5_rmsd']:.2f} "
          f"ours_acc_f1={med['ours_acc_f1']:.3f} best_method_acc_f1={best_acc:.3f} "
          f"ours_dec_f1={med['ours_dec_f1']:.3f} best_method_dec_f1={best_dec:.3f} "
          f"baseline_target={'met' if base_ok else 'not_met'} event_target={'met' if ev_ok else 'not_met'} "
          f"elapsed_s={time.perf_counter() - t0:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
