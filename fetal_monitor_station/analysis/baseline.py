"""Robust FHR baseline of a window: histogram mode, then selective averaging.

The method (our own, after the descriptions of Mantel et al. 1990 and Dawes et al. 1982):
1. the mode of the window's FHR histogram (1 bpm bins, smoothed over +/- 3 bpm); among the
   peaks at least `PEAK_KEEP_RATIO` as tall as the highest, the one nearest the previous
   estimate (continuity: a prolonged deceleration filling half the window does not move the
   baseline, a lasting change of level does once the old level has faded);
2. selective averaging: the mean of the samples within a band around the estimate, the
   band narrowing at each pass (excluding accelerations, decelerations, artefacts).

`moving_median_baseline` is the naive reference (a centred 5-minute moving median) the
benchmarks compare against.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..trace import FloatArray
from .rules import PLAUSIBLE_FHR_MAX_BPM, PLAUSIBLE_FHR_MIN_BPM

HIST_MIN_BPM = PLAUSIBLE_FHR_MIN_BPM
HIST_MAX_BPM = PLAUSIBLE_FHR_MAX_BPM
FINE_BIN_BPM = 0.25  # monitors report quarter-bpm: fine bins hold exact values
FINE_PER_COARSE = 4  # 1-bpm bins for the mode
N_FINE_BINS = int(round((HIST_MAX_BPM - HIST_MIN_BPM) / FINE_BIN_BPM)) + 1
HIST_SMOOTH_HALF_BPM = 3
# station: the first pass keeps what is within 25 bpm (an acceleration or deceleration of >= 15 bpm
# still pulls the first mean), the last ones close in on the central peak (chosen on the FHRMA
# training files, checked leave-one-out: bench/ctg_fhrma_heldout)
SELECTIVE_BANDS_BPM = (25.0, 15.0, 10.0, 6.0, 4.0, 3.0)
PEAK_KEEP_RATIO = 0.5
_KERNEL = np.ones(2 * HIST_SMOOTH_HALF_BPM + 1) / (2 * HIST_SMOOTH_HALF_BPM + 1)
_FINE_CENTRES = HIST_MIN_BPM + FINE_BIN_BPM * np.arange(N_FINE_BINS)


def valid_fhr(window: FloatArray) -> FloatArray:
    """The finite, physiologically plausible samples of a window."""
    return window[(window >= PLAUSIBLE_FHR_MIN_BPM) & (window <= PLAUSIBLE_FHR_MAX_BPM)]  # NaN compares False


def fine_histogram(window: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Counts and value sums of a window in quarter-bpm bins over the plausible range."""
    v = valid_fhr(window)
    idx = ((v - HIST_MIN_BPM) / FINE_BIN_BPM + 0.5).astype(np.int64)
    counts: FloatArray = np.bincount(idx, minlength=N_FINE_BINS).astype(np.float64)
    sums: FloatArray = np.bincount(idx, weights=v, minlength=N_FINE_BINS).astype(np.float64)
    return counts, sums


def mode_from_counts(fine_counts: FloatArray, previous_bpm: float | None = None) -> float:
    """Mode of the 1-bpm histogram; among the strong peaks, the one nearest `previous_bpm`."""
    usable = (fine_counts.size // FINE_PER_COARSE) * FINE_PER_COARSE
    coarse = fine_counts[:usable].reshape(-1, FINE_PER_COARSE).sum(axis=1)
    smooth = np.convolve(coarse, _KERNEL, mode="same")
    centre = HIST_MIN_BPM + FINE_BIN_BPM * (FINE_PER_COARSE - 1) / 2
    top = int(smooth.argmax())
    if previous_bpm is None or not np.isfinite(previous_bpm):
        return float(top) + centre
    inner = smooth[1:-1]
    is_peak = (inner >= smooth[:-2]) & (inner >= smooth[2:]) & (inner >= PEAK_KEEP_RATIO * smooth[top])
    peaks = is_peak.nonzero()[0] + 1
    if peaks.size == 0:
        return float(top) + centre
    return float(peaks[np.abs(peaks + centre - previous_bpm).argmin()]) + centre


def _within(level: float, band: float) -> tuple[int, int]:
    """Fine bins [a, b) with centres strictly inside level +/- band (what searchsorted right / left on
    the centres gives; the centres are exact multiples of a quarter, so the arithmetic is exact)."""
    a = math.floor((level - band - HIST_MIN_BPM) / FINE_BIN_BPM) + 1
    b = math.ceil((level + band - HIST_MIN_BPM) / FINE_BIN_BPM)
    return min(N_FINE_BINS, max(0, a)), min(N_FINE_BINS, max(0, b))


def baseline_from_histograms(counts: FloatArray, sums: FloatArray, min_valid: int,
                             previous_bpm: float | None = None,
                             mode_counts: FloatArray | None = None,
                             bands_bpm: Sequence[float] = SELECTIVE_BANDS_BPM) -> float | None:
    """Mode (of `mode_counts`, a longer window, if given) then selective averaging of `counts`."""
    total = float(counts.sum())
    if total < min_valid:
        return None
    wide = mode_counts if mode_counts is not None and mode_counts.sum() >= min_valid else counts
    estimate = mode_from_counts(wide, previous_bpm)
    c = np.concatenate(([0.0], counts.cumsum()))
    sm = np.concatenate(([0.0], sums.cumsum()))
    for band in bands_bpm:
        a, b = _within(estimate, band)
        kept = c[b] - c[a]
        if kept < min_valid // 2:
            break
        estimate = float((sm[b] - sm[a]) / kept)
    return estimate


def share_near(fine_counts: FloatArray, level_bpm: float, band_bpm: float) -> float:
    """Share of a histogram's samples within +/- band of a level (0 when empty)."""
    total = float(fine_counts.sum())
    if total <= 0:
        return 0.0
    a, b = _within(level_bpm, band_bpm)
    return float(fine_counts[a:b].sum()) / total


def histogram_mode(values: FloatArray, previous_bpm: float | None = None) -> float:
    """Mode of the FHR histogram of `values`; among the strong peaks, the one nearest `previous_bpm`."""
    return mode_from_counts(fine_histogram(values)[0], previous_bpm)


def robust_baseline(window: FloatArray, min_valid: int, previous_bpm: float | None = None,
                    mode_window: FloatArray | None = None) -> float | None:
    """Baseline of one window of 4 Hz FHR (NaN = missing); None with < `min_valid` samples.

    `mode_window` (a longer stretch around it) chooses the level; the averaging is local."""
    counts, sums = fine_histogram(window)
    mode_counts = fine_histogram(mode_window)[0] if mode_window is not None else None
    return baseline_from_histograms(counts, sums, min_valid, previous_bpm, mode_counts)


def moving_median_baseline(fhr: FloatArray, window_samples: int) -> FloatArray:
    """Centred moving median over valid samples (NaN where the window holds none)."""
    n = fhr.size
    out = np.full(n, np.nan)
    half = window_samples // 2
    step = max(1, window_samples // 40)  # evaluate on a grid, interpolate in between
    grid = np.arange(0, n, step)
    vals = np.full(grid.size, np.nan)
    for k, i in enumerate(grid):
        v = valid_fhr(fhr[max(0, i - half): i + half + 1])
        if v.size:
            vals[k] = float(np.median(v))
    ok = np.isfinite(vals)
    if ok.any():
        out = np.interp(np.arange(n), grid[ok], vals[ok])
    return out
