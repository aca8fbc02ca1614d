"""Per-sample signal state of one bed: last values, signal loss, maternal coincidence,
halving/doubling. O(1) per sample, or numpy over a block with the same result."""

from __future__ import annotations

import math

import numpy as np

from ..trace import SAMPLE_HZ, FloatArray
from .events import SignalQuality
from .util import run_since

QUALITY_WINDOW = 10 * 60 * SAMPLE_HZ  # loss % over the last 10 min


class LiveSignal:
    def __init__(self, coincidence_bpm: float, halving_tolerance_bpm: float) -> None:
        self._coin_bpm = coincidence_bpm
        self._tol = halving_tolerance_bpm
        self.last_fhr: float | None = None
        self.last_mhr: float | None = None
        self.last_toco: float | None = None
        self._last_valid_t: float | None = None
        self._lost_flags = bytearray(QUALITY_WINDOW)
        self._lost10 = 0
        self._coin_since: float | None = None
        self._hd_since: float | None = None

    def sample(self, i: int, t: float, f: float | None, m: float | None, toco: float | None,
               live_base: float | None) -> None:
        """Sample `i` at time `t`; `f` already validated (None = no fetal signal)."""
        q = i % QUALITY_WINDOW
        lost = 1 if f is None else 0
        self._lost10 += lost - self._lost_flags[q]
        self._lost_flags[q] = lost
        m = m if m is not None and math.isfinite(m) else None
        self.last_fhr, self.last_mhr, self.last_toco = f, m, toco
        if f is None:
            return
        self._last_valid_t = t
        coin = m is not None and abs(f - m) < self._coin_bpm
        self._coin_since = (self._coin_since if self._coin_since is not None else t) if coin else None
        lb, tol = live_base, self._tol
        hd = lb is not None and (abs(f - lb / 2) < tol or abs(f - 2 * lb) < 2 * tol)
        self._hd_since = (self._hd_since if self._hd_since is not None else t) if hd else None

    def block(self, i0: int, t0: float, f: FloatArray, mh: FloatArray, tc: FloatArray,
              live_base: float | None) -> None:
        """Samples i0.. (NaN = none) with the same outcome as `sample` one by one."""
        n = f.size
        if n == 0:
            return
        flags = np.frombuffer(self._lost_flags, dtype=np.uint8)
        lost = np.isnan(f).astype(np.uint8)
        q = (i0 + np.arange(n)) % QUALITY_WINDOW
        self._lost10 += int(lost.sum()) - int(flags[q].sum())
        flags[q] = lost
        valid = (lost == 0).nonzero()[0]
        if valid.size:
            tv = t0 + (i0 + valid) / SAMPLE_HZ
            fv = f[valid]
            self._last_valid_t = float(tv[-1])
            with np.errstate(invalid="ignore"):
                coin = np.abs(fv - mh[valid]) < self._coin_bpm
            self._coin_since = run_since(coin, tv, self._coin_since)
            lb, tol = live_base, self._tol
            hd = (np.zeros(valid.size, dtype=bool) if lb is None
                  else (np.abs(fv - lb / 2) < tol) | (np.abs(fv - 2 * lb) < 2 * tol))
            self._hd_since = run_since(hd, tv, self._hd_since)
        self.last_fhr = None if np.isnan(f[-1]) else float(f[-1])
        self.last_mhr = None if np.isnan(mh[-1]) else float(mh[-1])
        self.last_toco = None if np.isnan(tc[-1]) else float(tc[-1])

    def quality(self, t: float, n: int) -> SignalQuality:
        """Signal quality at time `t` after `n` samples."""
        denom = min(n, QUALITY_WINDOW)
        return SignalQuality(
            loss_percent_10min=100.0 * self._lost10 / denom if denom else 100.0,
            lost_for_s=t - self._last_valid_t if self._last_valid_t is not None else n / SAMPLE_HZ,
            coincidence_for_s=t - self._coin_since if self._coin_since is not None else 0.0,
            halving_doubling_for_s=t - self._hd_since if self._hd_since is not None else 0.0)
