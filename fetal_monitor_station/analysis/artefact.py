"""Artefact islands: short stretches of FHR between signal gaps that are not the fetal rate.

A transducer that loses the fetus often picks up something else for a few seconds (the maternal
heart, half or double the fetal rate) between two dropouts. Such a stretch is left out of the
event detection when (after FHRMA's `removesmallpart`, re-implemented from its description):
- it lasts < `FRAGMENT_S` between two gaps, whatever its level; or
- it lasts < `ISLAND_S` between two gaps and both its ends sit more than `JUMP_BPM` beyond the
  valid samples across the gaps, on the same side (a real deceleration is entered and left by a
  fall and a rise that the monitor records, not by two jumps over dropouts).
Pure function over a numpy window; the caller gives it context on both sides.
"""

from __future__ import annotations

import numpy as np

from ..trace import SAMPLE_HZ, FloatArray

FRAGMENT_S = 5.0  # station (FHRMA): a fragment this short between gaps is not trusted
ISLAND_S = 30.0  # station (FHRMA)
JUMP_BPM = 25.0  # station (FHRMA)
FRAGMENT = int(FRAGMENT_S * SAMPLE_HZ)
ISLAND = int(ISLAND_S * SAMPLE_HZ)


def _segments(ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.diff(np.concatenate(([0], ok.view(np.int8), [0])))
    return (d == 1).nonzero()[0], (d == -1).nonzero()[0]


def _mark(n: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    edges = np.zeros(n + 1, dtype=np.int64)
    np.add.at(edges, starts, 1)
    np.add.at(edges, ends, -1)
    return edges[:-1].cumsum() > 0


def artefact_islands(fhr: FloatArray) -> np.ndarray:
    """Mask of the samples of `fhr` (NaN = gap) that are artefact islands. A segment touching either
    end of the window is never one (its extent is unknown)."""
    n = fhr.size
    ok = np.isfinite(fhr)
    if ok.all():
        return np.zeros(n, dtype=bool)
    starts, ends = _segments(ok)
    frag = (starts > 0) & (ends < n) & (ends - starts < FRAGMENT)
    out = np.zeros(n, dtype=bool)
    if frag.any():
        out = _mark(n, starts[frag], ends[frag])
        ok &= ~out
        starts, ends = _segments(ok)
    if starts.size < 3:
        return out
    # inner segments (a valid sample across the gap on both sides) short enough to be islands
    i = (ends[1:-1] - starts[1:-1] < ISLAND).nonzero()[0] + 1
    if i.size == 0:
        return out
    d0 = fhr[starts[i]] - fhr[ends[i - 1] - 1]
    d1 = fhr[ends[i] - 1] - fhr[starts[i + 1]]
    jump = ((d0 < -JUMP_BPM) & (d1 < -JUMP_BPM)) | ((d0 > JUMP_BPM) & (d1 > JUMP_BPM))
    if jump.any():
        out |= _mark(n, starts[i[jump]], ends[i[jump]])
    return out
