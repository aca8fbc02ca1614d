"""Waveform pieces of the synthetic CTG generator (pure numpy)."""

from __future__ import annotations

import numpy as np

from ..trace import SAMPLE_HZ, FloatArray

VARIABILITY_LOW_CPM = 1.0  # band of the random variability, cycles per minute
VARIABILITY_HIGH_CPM = 10.0
BAND_LOW_PERCENTILE = 2.5  # per-minute band = P97.5 - P2.5 (see analysis/variability.py)
BAND_HIGH_PERCENTILE = 97.5
SAMPLES_PER_MIN = 60 * SAMPLE_HZ


def bell(t: FloatArray, start_s: float, end_s: float, ramp_s: float) -> FloatArray:
    """0 outside [start, end]; raised-cosine ramps of `ramp_s` up to a plateau of 1."""
    out = np.zeros_like(t)
    if end_s <= start_s:
        return out
    ramp = max(min(ramp_s, (end_s - start_s) / 2), 1e-3)
    up = (t >= start_s) & (t < start_s + ramp)
    out[up] = 0.5 - 0.5 * np.cos(np.pi * (t[up] - start_s) / ramp)
    out[(t >= start_s + ramp) & (t <= end_s - ramp)] = 1.0
    down = (t > end_s - ramp) & (t <= end_s)
    out[down] = 0.5 + 0.5 * np.cos(np.pi * (t[down] - (end_s - ramp)) / ramp)
    return out


def dip(t: FloatArray, start_s: float, nadir_s: float, end_s: float, depth_bpm: float,
        hold_until_s: float | None = None) -> FloatArray:
    """Deceleration profile (positive, to subtract): quarter-sine descent, cosine recovery."""
    out = np.zeros_like(t)
    hold = max(nadir_s, hold_until_s if hold_until_s is not None else nadir_s)
    fall = (t >= start_s) & (t < nadir_s)
    out[fall] = depth_bpm * np.sin(0.5 * np.pi * (t[fall] - start_s) / max(nadir_s - start_s, 1e-3))
    out[(t >= nadir_s) & (t <= hold)] = depth_bpm
    rise = (t > hold) & (t <= end_s)
    out[rise] = depth_bpm * (0.5 + 0.5 * np.cos(np.pi * (t[rise] - hold) / max(end_s - hold, 1e-3)))
    return out


def minute_band(x: FloatArray) -> FloatArray:
    """Per-minute peak-to-trough band (robust percentiles), NaN for minutes without data."""
    m = x.size // SAMPLES_PER_MIN
    out = np.full(m, np.nan)
    for k in range(m):
        seg = x[k * SAMPLES_PER_MIN:(k + 1) * SAMPLES_PER_MIN]
        seg = seg[np.isfinite(seg)]
        if seg.size > SAMPLES_PER_MIN // 2:
            lo, hi = np.percentile(seg, [BAND_LOW_PERCENTILE, BAND_HIGH_PERCENTILE])
            out[k] = hi - lo
    return out


def variability_noise(n: int, band_bpm: float, rng: np.random.Generator) -> FloatArray:
    """Irregular band-limited oscillation whose median per-minute band is `band_bpm`."""
    if n == 0 or band_bpm <= 0:
        return np.zeros(n)
    spec = np.fft.rfft(rng.normal(0.0, 1.0, n))
    f_cpm = np.fft.rfftfreq(n, d=1.0 / SAMPLE_HZ) * 60.0
    spec[(f_cpm < VARIABILITY_LOW_CPM) | (f_cpm > VARIABILITY_HIGH_CPM)] = 0.0
    x = np.fft.irfft(spec, n)
    bands = minute_band(x) if n >= SAMPLES_PER_MIN else np.array([np.ptp(x)])
    scale = float(np.nanmedian(bands)) if np.isfinite(bands).any() else 1.0
    return x * (band_bpm / scale if scale > 0 else 0.0)
