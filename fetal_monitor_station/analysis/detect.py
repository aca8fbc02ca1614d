"""Excursion detection (accelerations, decelerations, contractions) and deceleration typing.

An excursion is a maximal run of samples on one side of the baseline beyond `edge`; it is
kept when its peak reaches the rule amplitude and it lasts the rule duration (FIGO/NICHD:
>= 15 bpm for >= 15 s). Missing samples do not end a run unless the gap exceeds `max_gap_s`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..trace import FloatArray
from .events import DEC_EARLY, DEC_LATE, DEC_PROLONGED, DEC_VARIABLE, Episode
from .rules import LATE_MIN_NADIR_AFTER_ACME_S, VARIABLE_MAX_ONSET_TO_NADIR_S

MAX_GAP_S = 15.0  # station: a longer signal gap closes an open excursion
CONTRACTION_SEARCH_BEFORE_S = 30.0  # nadir may precede the contraction start by this much
CONTRACTION_SEARCH_AFTER_S = 60.0  # or follow its end by this much (late decelerations)


@dataclass(frozen=True, slots=True)
class ExcursionRule:
    sign: int  # +1 above the baseline, -1 below
    kind: str
    edge: float  # deviation that opens/closes a run
    min_amplitude: float
    min_duration_s: float
    max_duration_s: float = math.inf


class ExcursionDetector:
    """Feeds on chunks of (deviation, baseline) samples; O(1) state between chunks.

    Runs are found with numpy; only runs long and deep enough to count reach Python."""

    def __init__(self, rules: Sequence[ExcursionRule], sample_hz: int) -> None:
        self._rules = {r.sign: r for r in rules}
        self._hz = sample_hz
        self._max_gap = int(MAX_GAP_S * sample_hz)
        self._min_len = int(min(r.min_duration_s for r in rules) * sample_hz)
        self._min_amp = min(r.min_amplitude for r in rules)
        self._sign = 0  # open run: its sign, start, last valid index, peak, peak index, sum of baseline
        self._start = 0
        self._last_valid = 0
        self._peak = 0.0
        self._peak_i = 0
        self._base_sum = 0.0
        self._nans = 0  # NaN samples seen before the current chunk
        self._nans_at_start = 0
        self._nans_at_last = 0  # NaNs before the open run's last valid sample
        self._prev_valid = -1  # last valid sample before the current chunk (-1: none yet)
        self._nans_at_prev = 0  # NaNs before it
        self._edge_pos = self._rules[1].edge if 1 in self._rules else math.inf
        self._edge_neg = -self._rules[-1].edge if -1 in self._rules else -math.inf

    @property
    def open_since(self) -> int | None:
        """Index where the open run started (None when idle)."""
        return self._start if self._sign else None

    @property
    def open_sign(self) -> int:
        """Side of the open run (+1 above, -1 below the baseline, 0 when idle)."""
        return self._sign

    def feed(self, i0: int, dev: FloatArray, base: FloatArray) -> list[Episode]:
        d = np.asarray(dev, dtype=np.float64)
        b = np.asarray(base, dtype=np.float64)
        out: list[Episode] = []
        n = d.size
        isn = np.isnan(d)
        prefix = np.concatenate(([0], isn.cumsum()))
        vi = (~isn).nonzero()[0]
        if vi.size == 0:
            if self._sign and i0 + n - 1 - self._last_valid > self._max_gap:
                self._close(self._last_valid + 1, prefix, i0, out)
            self._nans += int(prefix[-1])
            return out
        dv = d[vi]
        sv = (dv > self._edge_pos).astype(np.int8) - (dv < self._edge_neg).astype(np.int8)
        gap = vi[1:] - vi[:-1] - 1 > self._max_gap
        cut = ((sv[1:] != sv[:-1]) | gap).nonzero()[0] + 1
        starts = np.concatenate(([0], cut))
        ends = np.concatenate((cut, [vi.size]))
        signed = sv * dv
        peaks = np.maximum.reduceat(signed, starts)
        bsums = np.add.reduceat(b[vi], starts)  # finite: dev is NaN wherever the baseline is
        first = 0
        if self._sign:
            v0 = int(vi[0]) + i0
            if v0 - self._last_valid - 1 > self._max_gap:
                self._close(self._last_valid + 1, prefix, i0, out)
            elif sv[0] == self._sign:
                seg_end = int(ends[0])
                if peaks[0] > self._peak:
                    self._peak = float(peaks[0])
                    self._peak_i = int(vi[int(signed[:seg_end].argmax())]) + i0
                self._base_sum += float(bsums[0])
                self._last_valid = int(vi[seg_end - 1]) + i0
                self._nans_at_last = self._nans + int(prefix[int(vi[seg_end - 1])])
                first = 1
                if len(starts) > 1:
                    self._close(self._next_end(vi, gap, seg_end, i0), prefix, i0, out)
            else:
                self._close(v0, prefix, i0, out)
        n_seg = len(starts)
        if first < n_seg:
            g = np.arange(first, n_seg - 1)
            # longest it can last (a short gap before it may count too: `_run_start`)
            reach = vi[ends[g] - 1] + 1 + 2 * self._max_gap - vi[starts[g]]
            keep = g[(sv[starts[g]] != 0) & (reach >= self._min_len) & (peaks[g] >= self._min_amp)]
            for k in keep.tolist():
                self._open_segment(k, vi, starts, ends, signed, peaks, bsums, sv, prefix, i0,
                                   self._run_start(vi, int(starts[k]), i0))
                self._close(self._next_end(vi, gap, int(ends[k]), i0), prefix, i0, out)
            last = n_seg - 1
            if last >= first and sv[starts[last]] != 0:
                self._open_segment(last, vi, starts, ends, signed, peaks, bsums, sv, prefix, i0,
                                   self._run_start(vi, int(starts[last]), i0))
        self._nans_at_prev = self._nans + int(prefix[int(vi[-1])])
        self._prev_valid = int(vi[-1]) + i0
        self._nans += int(prefix[-1])
        return out

    def _run_start(self, vi: np.ndarray, a: int, i0: int) -> int:
        """Where a run whose first valid sample is `vi[a]` starts (relative to the chunk): a run entered
        across a short gap starts just after the last valid sample before it, as a run left across
        one ends at the first valid sample after it (the crossing is somewhere in the gap)."""
        first = int(vi[a])
        prev = int(vi[a - 1]) if a > 0 else (self._prev_valid - i0 if self._prev_valid >= 0 else None)
        if prev is not None and first - prev - 1 <= self._max_gap:
            return prev + 1
        return first

    def _open_segment(self, k: int, vi: np.ndarray, starts: np.ndarray, ends: np.ndarray, signed: FloatArray,
                      peaks: FloatArray, bsums: FloatArray, sv: np.ndarray, prefix: np.ndarray, i0: int,
                      start: int) -> None:
        a, e = int(starts[k]), int(ends[k])
        self._sign = int(sv[a])
        self._start = start + i0
        # the NaNs of a leading gap (start < 0: it began in an earlier chunk) count as lost
        self._nans_at_start = self._nans + int(prefix[start]) if start >= 0 else self._nans_at_prev
        self._peak = float(peaks[k])
        self._peak_i = int(vi[a + int(signed[a:e].argmax())]) + i0
        self._base_sum = float(bsums[k])
        self._last_valid = int(vi[e - 1]) + i0
        self._nans_at_last = self._nans + int(prefix[int(vi[e - 1])])

    def _next_end(self, vi: np.ndarray, gap: np.ndarray, seg_end: int, i0: int) -> int:
        """Where a run ending at valid sample `seg_end - 1` closes: at the next valid sample, or
        just after its last valid sample when a long gap follows."""
        if seg_end < vi.size and not gap[seg_end - 1]:
            return int(vi[seg_end]) + i0
        return int(vi[seg_end - 1]) + 1 + i0

    def flush(self, end_i: int) -> list[Episode]:
        out: list[Episode] = []
        if self._sign:
            self._close(min(end_i, self._last_valid + 1), None, 0, out)
        return out

    def _close(self, end_i: int, prefix: np.ndarray | None, i0: int, out: list[Episode]) -> None:
        rule = self._rules[self._sign]
        n = end_i - self._start
        dur = n / self._hz
        if self._peak >= rule.min_amplitude and rule.min_duration_s <= dur < rule.max_duration_s:
            if end_i == self._last_valid + 1:
                nans_end = self._nans_at_last
            elif prefix is not None and i0 <= end_i < i0 + prefix.size:
                nans_end = self._nans + int(prefix[end_i - i0])
            else:
                nans_end = self._nans
            lost = max(0, nans_end - self._nans_at_start)
            n_valid = max(1, n - lost)
            out.append(Episode(rule.kind, self._start / self._hz, end_i / self._hz, self._peak_i / self._hz,
                               self._sign * self._peak, baseline_bpm=self._base_sum / n_valid,
                               lost_fraction=min(1.0, lost / max(1, n))))
        self._sign = 0


def type_deceleration(dec: Episode, contractions: Sequence[Episode], prolonged_s: float) -> Episode:
    """The deceleration with its type (and the contraction it was tied to, if any)."""
    tied: Episode | None = None
    for c in contractions:
        if c.start_s - CONTRACTION_SEARCH_BEFORE_S <= dec.peak_s <= c.end_s + CONTRACTION_SEARCH_AFTER_S:
            if tied is None or abs(dec.peak_s - c.peak_s) < abs(dec.peak_s - tied.peak_s):
                tied = c
    acme = tied.peak_s if tied else None
    if dec.duration_s >= prolonged_s:
        kind = DEC_PROLONGED
    elif dec.peak_s - (dec.onset_s if dec.onset_s is not None else dec.start_s) < VARIABLE_MAX_ONSET_TO_NADIR_S \
            or tied is None:
        # abrupt; a gradual deceleration without a contraction cannot be early or late and is
        # counted as variable (non-periodic)
        kind = DEC_VARIABLE
    elif dec.peak_s - tied.peak_s > LATE_MIN_NADIR_AFTER_ACME_S:
        kind = DEC_LATE
    else:
        kind = DEC_EARLY
    return Episode(dec.kind, dec.start_s, dec.end_s, dec.peak_s, dec.amplitude, dec.baseline_bpm, kind, acme,
                   dec.lost_fraction, dec.onset_s, dec.context_lost_fraction)
