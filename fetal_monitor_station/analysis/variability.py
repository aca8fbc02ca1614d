"""Per-minute variability: amplitude band (bpm), short-term variation (ms), sinusoidal test."""

from __future__ import annotations

import numpy as np

from ..trace import SAMPLE_HZ, FloatArray
from .rules import (
    ABSENT_VARIABILITY_MAX_BPM,
    MARKED_VARIABILITY_MIN_BPM,
    MINIMAL_VARIABILITY_MAX_BPM,
    SINUSOIDAL_MAX_AMPLITUDE_BPM,
    SINUSOIDAL_MAX_CPM,
    SINUSOIDAL_MIN_AMPLITUDE_BPM,
    SINUSOIDAL_MIN_CPM,
    STV_EPOCH_S,
)

BAND_LOW_PERCENTILE = 2.5  # station: robust peak-to-trough, ignores single-sample spikes
BAND_HIGH_PERCENTILE = 97.5
MIN_VALID_FRACTION = 0.5  # a minute needs half its samples to be measured
EPOCH_SAMPLES = int(STV_EPOCH_S * SAMPLE_HZ)  # 15 samples at 4 Hz
SINUSOIDAL_POWER_SHARE = 0.6  # station: share of 1-15 cpm power in the 3-5 cpm band
SINUSOIDAL_TOTAL_LOW_CPM = 1.0
SINUSOIDAL_TOTAL_HIGH_CPM = 15.0
SINUSOIDAL_AMPLITUDE_SLACK_BPM = 2.0

VAR_ABSENT = "absent"
VAR_MINIMAL = "minimal"
VAR_MODERATE = "moderate"
VAR_MARKED = "marked"


def band_bpm(fhr: FloatArray, n_expected: int) -> float | None:
    """Peak-to-trough band of one minute's baseline samples (NaN / excluded removed)."""
    v = fhr[np.isfinite(fhr)]
    if v.size < MIN_VALID_FRACTION * n_expected:
        return None
    v = np.sort(v)
    return _sorted_percentile(v, BAND_HIGH_PERCENTILE) - _sorted_percentile(v, BAND_LOW_PERCENTILE)


def _sorted_percentile(v: FloatArray, q: float) -> float:
    """Linear-interpolated percentile of a sorted array (numpy's default method)."""
    pos = q / 100.0 * (v.size - 1)
    k = int(pos)
    if k + 1 >= v.size:
        return float(v[-1])
    return float(v[k] + (v[k + 1] - v[k]) * (pos - k))


def variability_class(band: float | None) -> str | None:
    """NICHD amplitude class of a band."""
    if band is None:
        return None
    if band <= ABSENT_VARIABILITY_MAX_BPM:
        return VAR_ABSENT
    if band <= MINIMAL_VARIABILITY_MAX_BPM:
        return VAR_MINIMAL
    if band <= MARKED_VARIABILITY_MIN_BPM:
        return VAR_MODERATE
    return VAR_MARKED


def stv_ms(fhr: FloatArray) -> float | None:
    """Short-term variation of one minute: mean |difference| of successive 3.75 s epoch intervals."""
    n_ep = fhr.size // EPOCH_SAMPLES
    if n_ep < 2:
        return None
    ep = fhr[: n_ep * EPOCH_SAMPLES].reshape(n_ep, EPOCH_SAMPLES)
    nan = np.isnan(ep)  # (the array methods below: numpy's nansum/diff/mean wrappers cost more than the work)
    cnt = EPOCH_SAMPLES - nan.sum(axis=1)
    means = np.where(nan, 0.0, ep).sum(axis=1) / np.maximum(cnt, 1)
    means[cnt < EPOCH_SAMPLES // 2] = np.nan
    with np.errstate(divide="ignore"):
        interval_ms = 60000.0 / means
    d = np.abs(interval_ms[1:] - interval_ms[:-1])
    d = d[~np.isnan(d)]
    return float(d.sum() / d.size) if d.size else None


def _bins(n: int, lo_cpm: float, hi_cpm: float) -> slice:
    """The rfft bins of `n` samples whose frequency (as `np.fft.rfftfreq` gives it, in cycles/min)
    lies in [lo, hi]: a run of bins, found without building the frequency array every minute."""
    val = 1.0 / (n * (1.0 / SAMPLE_HZ))
    top = n // 2

    def cpm(k: int) -> float:
        return k * val * 60.0

    a = max(0, int(lo_cpm / (val * 60.0)) - 1)
    while a <= top and cpm(a) < lo_cpm:
        a += 1
    b = min(top, int(hi_cpm / (val * 60.0)) + 1)
    while b >= 0 and cpm(b) > hi_cpm:
        b -= 1
    return slice(a, max(a, b + 1))


def is_sinusoidal(dev: FloatArray) -> bool:
    """Regular 3-5 cycles/min undulation of 5-15 bpm in a detrended stretch (>= a few minutes)."""
    finite = np.isfinite(dev)
    x = dev[finite] if finite.mean() > 0.8 else None
    if x is None or x.size < 4 * 60 * SAMPLE_HZ:
        return False
    x = x - x.mean()
    power = np.abs(np.fft.rfft(x)) ** 2
    total = power[_bins(x.size, SINUSOIDAL_TOTAL_LOW_CPM, SINUSOIDAL_TOTAL_HIGH_CPM)].sum()
    band = power[_bins(x.size, SINUSOIDAL_MIN_CPM - 0.3, SINUSOIDAL_MAX_CPM + 0.3)].sum()
    if total <= 0 or band / total < SINUSOIDAL_POWER_SHARE:
        return False
    amplitude = float(np.percentile(x, BAND_HIGH_PERCENTILE) - np.percentile(x, BAND_LOW_PERCENTILE))
    return (SINUSOIDAL_MIN_AMPLITUDE_BPM - SINUSOIDAL_AMPLITUDE_SLACK_BPM <= amplitude
            <= SINUSOIDAL_MAX_AMPLITUDE_BPM + SINUSOIDAL_AMPLITUDE_SLACK_BPM)
