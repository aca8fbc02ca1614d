"""Features of one settled minute: baseline, variability band, STV, sinusoidal flag."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..trace import SAMPLE_HZ, FloatArray
from . import rules as R
from .classify import MinuteFeatures
from .events import KIND_CONTRACTION, Episode
from .variability import band_bpm, is_sinusoidal, stv_ms

SPM = 60 * SAMPLE_HZ  # samples per minute
SINUSOIDAL_WINDOW = 10 * SPM
# the spectral sinusoidal test runs only on minutes whose band could belong to one (5-15 bpm +/- 2)
SINUSOIDAL_GATE_MIN_BPM = R.SINUSOIDAL_MIN_AMPLITUDE_BPM - 2.0
SINUSOIDAL_GATE_MAX_BPM = R.SINUSOIDAL_MAX_AMPLITUDE_BPM + 2.0


def minute_features(m0: int, fhr: FloatArray, base: FloatArray, episodes: Sequence[Episode],
                    sinusoidal_dev: FloatArray | None) -> tuple[MinuteFeatures, int]:
    """Features of samples [m0, m0 + 1 min) and their number of valid samples; accelerations and
    decelerations (`episodes`, one detector's runs: in time order, not overlapping) are left out of
    the variability; `sinusoidal_dev` is the FHR - baseline of the 10 min ending with the minute
    (None when not available)."""
    n_valid = int(np.isfinite(fhr).sum())
    masked = fhr.copy()
    for ep in reversed(episodes):  # from the newest: an hour of them is kept, a minute needs the last few
        b = int(ep.end_s * SAMPLE_HZ) - m0
        if b <= 0:
            break  # the earlier ones end earlier still
        if ep.kind != KIND_CONTRACTION:
            a = int(ep.start_s * SAMPLE_HZ) - m0
            if a < SPM:
                masked[max(0, a): min(SPM, b)] = np.nan
    band = band_bpm(masked, SPM)
    stv = stv_ms(masked)
    fb = base[np.isfinite(base)]
    baseline = float(fb.mean()) if fb.size and n_valid >= SPM // 4 else None
    maybe_sin = band is not None and SINUSOIDAL_GATE_MIN_BPM <= band <= SINUSOIDAL_GATE_MAX_BPM
    sin = bool(maybe_sin and sinusoidal_dev is not None and is_sinusoidal(sinusoidal_dev))
    return MinuteFeatures(m0 / SAMPLE_HZ, baseline, band, sin, stv), n_valid
