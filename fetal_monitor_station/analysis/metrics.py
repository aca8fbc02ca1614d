"""Evaluation metrics after FHRMA `statscompare.m` (re-implemented from its description).

Event matching: event j of analysis 2 matches event i of analysis 1 iff
`end2 > start1 + 5 s` and `start2 + 5 s < end1`, resolved one-to-one greedily in time order.
`fmeasure_fhrma` is FHRMA's F (no factor 2, i.e. half the conventional F1); `f1` is the
conventional F1 = 2PR/(P+R). Our tests and benches report the conventional F1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..trace import FloatArray

MATCH_MARGIN_S = 5.0
MADI_TRIM_SAMPLES = 120
MADI_WINDOW_SAMPLES = 240  # 60 s at 4 Hz
MADI_FLOOR_BPM = 3.0
Interval = tuple[float, float]


def match_events(ref: Sequence[Interval], test: Sequence[Interval]) -> list[tuple[int, int]]:
    """One-to-one matched (ref index, test index) pairs."""
    used: set[int] = set()
    pairs = []
    for i, (s1, e1) in enumerate(ref):
        best, best_ov = -1, 0.0
        for j, (s2, e2) in enumerate(test):
            if j in used or not (e2 > s1 + MATCH_MARGIN_S and s2 + MATCH_MARGIN_S < e1):
                continue
            ov = min(e1, e2) - max(s1, s2)
            if ov > best_ov:
                best, best_ov = j, ov
        if best >= 0:
            used.add(best)
            pairs.append((i, best))
    return pairs


def event_scores(ref: Sequence[Interval], test: Sequence[Interval]) -> dict[str, float]:
    """Sensitivity, PPV, conventional F1 and FHRMA's F-measure (1.0 when both are empty)."""
    pairs = match_events(ref, test)
    if not ref and not test:
        return {"sensitivity": 1.0, "ppv": 1.0, "f1": 1.0, "fmeasure_fhrma": 0.5, "n_ref": 0, "n_test": 0}
    sens = len(pairs) / len(ref) if ref else 0.0
    ppv = len(pairs) / len(test) if test else 0.0
    f1 = 2 * sens * ppv / (sens + ppv) if sens + ppv else 0.0
    return {"sensitivity": sens, "ppv": ppv, "f1": f1, "fmeasure_fhrma": f1 / 2,
            "n_ref": float(len(ref)), "n_test": float(len(test))}


def baseline_rmsd(l1: FloatArray, l2: FloatArray, valid: np.ndarray | None = None) -> float:
    ok = np.isfinite(l1) & np.isfinite(l2)
    if valid is not None:
        ok &= valid
    return float(np.sqrt(np.mean((l1[ok] - l2[ok]) ** 2))) if ok.any() else float("nan")


def _movmean(x: FloatArray, w: int) -> FloatArray:
    c = np.cumsum(np.insert(x, 0, 0.0))
    half = w // 2
    idx = np.arange(x.size)
    lo, hi = np.clip(idx - half, 0, x.size), np.clip(idx + w - half, 0, x.size)
    return (c[hi] - c[lo]) / np.maximum(hi - lo, 1)


def madi(l1: FloatArray, l2: FloatArray, fhr: FloatArray) -> float:
    """FHRMA's MADI (0-1): mean of D/(D1*D2 + D) over samples with signal, ends trimmed."""
    ok = np.isfinite(fhr) & (fhr > 0) & np.isfinite(l1) & np.isfinite(l2)
    f, a, b = fhr[ok], l1[ok], l2[ok]
    if f.size <= 2 * MADI_TRIM_SAMPLES:
        return float("nan")
    d1 = np.sqrt(_movmean((a - f) ** 2, MADI_WINDOW_SAMPLES)) + MADI_FLOOR_BPM
    d2 = np.sqrt(_movmean((b - f) ** 2, MADI_WINDOW_SAMPLES)) + MADI_FLOOR_BPM
    d = (a - b) ** 2
    s = slice(MADI_TRIM_SAMPLES, f.size - MADI_TRIM_SAMPLES)
    return float(np.mean(d[s] / (d1[s] * d2[s] + d[s])))
