"""Small numeric helpers of the streaming analysis."""

from __future__ import annotations

import numpy as np

from ..trace import FloatArray


def median(values: list[float]) -> float | None:
    if not values:
        return None
    v = sorted(values)
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else 0.5 * (v[mid - 1] + v[mid])


def run_since(cond: np.ndarray, t: FloatArray, since: float | None) -> float | None:
    """Start time of the run of `cond` still open after these (valid) samples."""
    false_at = (~cond).nonzero()[0]
    if false_at.size == 0:
        return since if since is not None else float(t[0])
    j = int(false_at[-1]) + 1
    return float(t[j]) if j < cond.size else None


def ramp(v0: float | None, v1: float | None, n: int) -> FloatArray:
    """n values going linearly from v0 towards v1 (holding whichever exists)."""
    if v0 is None and v1 is None:
        return np.full(n, np.nan)
    if v0 is None or v1 is None:
        return np.full(n, v0 if v0 is not None else v1, dtype=np.float64)
    return v0 + (v1 - v0) * (np.arange(n) / n)
