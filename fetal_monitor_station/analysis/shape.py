"""Shape refinements of the settled analysis: deceleration nadir/onset on smoothed FHR, and
changes of baseline level (pure functions over numpy arrays)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ..trace import SAMPLE_HZ, FloatArray
from .baseline import baseline_from_histograms, mode_from_counts, share_near
from .events import Episode

NADIR_SMOOTH_S = 30.0  # station: smoothing of the FHR for the nadir time used in typing
NADIR_SMOOTH = int(NADIR_SMOOTH_S * SAMPLE_HZ)
ONSET_SEARCH = int(60.0 * SAMPLE_HZ)  # look this far before the detected start for the onset
CONTEXT = int(15.0 * SAMPLE_HZ)  # signal loss is also measured this far around a deceleration
ONSET_FRACTION = 0.15  # station: onset = last point above 15 % of the smoothed depth
LEVEL_SWITCH_MIN_BPM = 10.0  # station: a level this far from the baseline may be a new baseline...
LEVEL_BAND_BPM = 8.0  # ...when this close to it...
LEVEL_SHARE = 0.7  # ...are this share of each half of the +/- 5-min window


def refine_deceleration(ep: Episode, dev: FloatArray, lo: int, context: FloatArray) -> Episode:
    """Nadir and onset of a deceleration on the FHR deviation smoothed over `NADIR_SMOOTH_S`
    (variability moves the raw minimum and the first crossing by tens of seconds, and typing
    compares them), plus the signal loss in `context` (the FHR around it).

    `dev` holds the deviation from sample `lo` (up to `ONSET_SEARCH` before the start) to the end."""
    a = int(round(ep.start_s * SAMPLE_HZ))
    ok = np.isfinite(dev)
    c = np.convolve(np.where(ok, dev, 0.0), np.ones(NADIR_SMOOTH), mode="same")
    w = np.convolve(ok.astype(np.float64), np.ones(NADIR_SMOOTH), mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        sm = np.where(w > NADIR_SMOOTH // 2, c / w, np.nan)
    inside = sm[a - lo:]
    if not np.isfinite(inside).any():
        return ep
    k = a - lo + int(np.nanargmin(inside))
    depth = -float(sm[k])
    above = np.flatnonzero(~(sm[:k] < -ONSET_FRACTION * depth))  # NaN counts as above
    onset = lo + (int(above[-1]) + 1 if above.size else 0)
    ctx_lost = float(np.isnan(context).mean()) if context.size else 0.0
    return replace(ep, peak_s=(lo + k) / SAMPLE_HZ, onset_s=onset / SAMPLE_HZ, context_lost_fraction=ctx_lost)


def level_change(val: float | None, counts: FloatArray, sums: FloatArray, min_valid: int,
                 back_counts: Callable[[], FloatArray]) -> float | None:
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
        return baseline_from_histograms(counts, sums, min_valid, level)
    return val
