"""Shape refinements of the settled analysis: deceleration nadir/onset on smoothed FHR, and
changes of baseline level (pure functions over numpy arrays)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from ..trace import SAMPLE_HZ, FloatArray
from .baseline import SELECTIVE_BANDS_BPM, baseline_from_histograms, mode_from_counts, share_near
from .events import Episode

NADIR_SMOOTH_S = 30.0  # station: smoothing of the FHR for the nadir time used in typing
NADIR_SMOOTH = int(NADIR_SMOOTH_S * SAMPLE_HZ)
ONSET_SEARCH = int(60.0 * SAMPLE_HZ)  # look this far before the detected start for the onset
CONTEXT = int(15.0 * SAMPLE_HZ)  # signal loss is also measured this far around a deceleration
FALL_SMOOTH_S = 8.0  # station: light smoothing for the fall time (abrupt stays abrupt)
FALL_SMOOTH = int(FALL_SMOOTH_S * SAMPLE_HZ)
# station: the fall is timed between 10 % and 90 % of the depth (the usual rise time; between 20 %
# and 80 % the span was shorter and noise moved its ends by as much, so shallow early
# decelerations in variable traces read as abrupt)...
FALL_LOW, FALL_HIGH = 0.1, 0.9
# ...and scaled to the whole fall (a quarter-sine fall crosses level p at (2/pi) asin(p) of it)
FALL_SPAN_TO_FULL = 1.0 / (2.0 / math.pi * (math.asin(FALL_HIGH) - math.asin(FALL_LOW)))
LEVEL_SWITCH_MIN_BPM = 10.0  # station: a level this far from the baseline may be a new baseline...
LEVEL_BAND_BPM = 8.0  # ...when this close to it...
LEVEL_SHARE = 0.7  # ...are this share of each half of the +/- 5-min window


def _smooth(dev: FloatArray, width: int) -> FloatArray:
    ok = np.isfinite(dev)
    c = np.convolve(np.where(ok, dev, 0.0), np.ones(width), mode="same")
    w = np.convolve(ok.astype(np.float64), np.ones(width), mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(w > width // 2, c / w, np.nan)


def refine_deceleration(ep: Episode, dev: FloatArray, lo: int, context: FloatArray) -> Episode:
    """Nadir and onset of a deceleration for typing, plus the signal loss in `context` (the FHR
    around it). Variability moves the raw minimum and the first crossing by tens of seconds, so:
    the nadir is the minimum of the deviation smoothed over `NADIR_SMOOTH_S`; the onset-to-nadir
    time is measured where it is robust, between the last crossings of 10 % and 90 % of the depth
    before the nadir (on a `FALL_SMOOTH_S` smoothing, which keeps an abrupt fall abrupt), scaled to
    the whole fall (`FALL_SPAN_TO_FULL`); onset = nadir minus that time.

    `dev` holds the deviation from sample `lo` (up to `ONSET_SEARCH` before the start) to the end."""
    a = int(round(ep.start_s * SAMPLE_HZ))
    sm = _smooth(dev, NADIR_SMOOTH)
    inside = sm[a - lo:]
    if not np.isfinite(inside).any():
        return ep
    k = a - lo + int(np.nanargmin(inside))
    fine = _smooth(dev, FALL_SMOOTH)
    win = fine[max(a - lo, k - NADIR_SMOOTH):min(fine.size, k + NADIR_SMOOTH)]
    if np.isfinite(win).any():
        kf = max(a - lo, k - NADIR_SMOOTH) + int(np.nanargmin(win))
    else:
        kf = k
    depth = -float(fine[kf]) if np.isfinite(fine[kf]) else -float(sm[k])
    deep = (~(fine[:kf] < -FALL_HIGH * depth)).nonzero()[0]  # NaN counts as above
    k_hi = int(deep[-1]) + 1 if deep.size else 0
    shallow = (~(fine[:k_hi] < -FALL_LOW * depth)).nonzero()[0]
    k_lo = int(shallow[-1]) + 1 if shallow.size else 0
    fall = FALL_SPAN_TO_FULL * (k_hi - k_lo)
    ctx_lost = float(np.isnan(context).mean()) if context.size else 0.0
    return replace(ep, peak_s=(lo + k) / SAMPLE_HZ, onset_s=(lo + kf - fall) / SAMPLE_HZ,
                   context_lost_fraction=ctx_lost)


def level_change(val: float | None, counts: FloatArray, sums: FloatArray, min_valid: int,
                 back_counts: Callable[[], FloatArray],
                 bands_bpm: Sequence[float] = SELECTIVE_BANDS_BPM) -> float | None:
    """A change of baseline level: when the +/- 5-min window is dominated, in both its halves, by
    a level far from the continuity estimate `val`, that level is the baseline (NICHD: a change
    lasting >= 10 min is a new baseline; a prolonged deceleration of < 7 min cannot fill both
    halves). `back_counts()` gives the first half's histogram (computed only when needed)."""
    if val is None or counts.sum() < min_valid:
        return val
    level = mode_from_counts(counts)
    if abs(level - val) <= LEVEL_SWITCH_MIN_BPM:
        return val
    back = back_counts()
    if share_near(back, level, LEVEL_BAND_BPM) >= LEVEL_SHARE and \
            share_near(counts - back, level, LEVEL_BAND_BPM) >= LEVEL_SHARE:
        return baseline_from_histograms(counts, sums, min_valid, level, bands_bpm=bands_bpm)
    return val
