"""Sliding histograms over the ring buffer: a window's counts and sums kept up to date by adding
the samples that enter and removing those that leave (O(step + bins) per update, not O(window))."""

from __future__ import annotations

import numpy as np

from ..trace import FloatArray
from .ring import Ring

REBUILD_EVERY = 240  # recount from the ring now and then so float sums cannot drift


class SlidingHistogram:
    """Counts and value sums of `ring[lo:hi)` in bins of `bin_width` over [lo_value, hi_value]."""

    def __init__(self, ring: Ring, lo_value: float, hi_value: float, bin_width: float,
                 with_sums: bool = True) -> None:
        self._ring = ring
        self.with_sums = with_sums
        self.lo_value = lo_value
        self.bin_width = bin_width
        self.n_bins = int(round((hi_value - lo_value) / bin_width)) + 1
        self.counts = np.zeros(self.n_bins)
        self.sums = np.zeros(self.n_bins)
        self._lo = 0
        self._hi = 0
        self.total = 0
        self._moves = 0

    def _add(self, values: FloatArray, sign: FloatArray | float) -> None:
        top = self.lo_value + (self.n_bins - 1) * self.bin_width
        keep = (values >= self.lo_value) & (values <= top)  # NaN compares False
        v = values[keep]
        if v.size == 0:
            return
        w = sign[keep] if isinstance(sign, np.ndarray) else np.full(v.size, sign)
        idx = ((v - self.lo_value) / self.bin_width + 0.5).astype(np.int64)
        self.counts += np.bincount(idx, weights=w, minlength=self.n_bins)
        if self.with_sums:
            self.sums += np.bincount(idx, weights=w * v, minlength=self.n_bins)
        self.total += int(w.sum())

    def move_to(self, lo: int, hi: int) -> None:
        """Make the histogram cover ring samples [lo, hi) (windows only move forward)."""
        self._moves += 1
        if lo < self._lo or hi < self._hi or lo >= self._hi or self._moves % REBUILD_EVERY == 0:
            self.counts[:] = 0.0
            self.sums[:] = 0.0
            self.total = 0
            self._add(self._ring.get(lo, hi), 1.0)
        elif lo > self._lo or hi > self._hi:
            leaving = self._ring.get(self._lo, lo)
            entering = self._ring.get(self._hi, hi)
            sign = np.ones(leaving.size + entering.size)
            sign[:leaving.size] = -1.0
            self._add(np.concatenate((leaving, entering)), sign)
        self._lo, self._hi = lo, hi

    def forget(self, at: np.ndarray, values: FloatArray) -> None:
        """Ring samples at indices `at` (holding `values`) are about to be erased: drop those inside
        the window from the counts."""
        inside = (at >= self._lo) & (at < self._hi)
        if inside.any():
            self._add(values[inside], -1.0)

    def percentile(self, q: float) -> float | None:
        if self.total <= 0:
            return None
        c = self.counts.cumsum()
        k = int(np.searchsorted(c, q / 100.0 * c[-1]))
        return self.lo_value + min(k, self.n_bins - 1) * self.bin_width
