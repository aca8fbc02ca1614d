"""A condition timer with time hysteresis (no alarm flood on a value hovering at a threshold).

An episode starts at the first sample meeting the condition. It lives while at least
`hold_fraction` of the valid samples of the last `window_s` (or of the episode so far, if
shorter) meet it; missing samples (None) neither feed nor end it. `held_for()` is how long the
condition really held: from the episode's start to the last sample that met it, so time the
hysteresis keeps the episode alive after the condition stopped is not counted; with `max_gap_s`,
nor is a stretch of missing samples longer than that (nobody saw the condition then: a
deceleration seen for 1 min, then 2 min of signal loss, then 10 s more, has not been seen for
3 min). `holding` says whether the latest judged sample met it: a timed alarm fires only then.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt

MIN_SAMPLES_TO_END = 8  # 2 s at 4 Hz before an episode can be judged
_ZERO = np.zeros(1, dtype=np.int64)
RUN_LOOKAHEAD = 64  # samples: `run` looks for an episode's end this far first (an end depends only on what came before)


class ConditionTimer:
    """`since`: start of the current episode (None when there is none); `holding`: the latest judged
    sample met the condition and an episode is alive; `last_true`: the last sample that met it (kept
    after the episode ends); plain attributes: read at 4 Hz per bed."""

    __slots__ = ("_window", "_hold", "_max_gap", "since", "last_true", "holding", "_flags", "_true",
                 "_last_judged", "_unseen")

    def __init__(self, window_samples: int, hold_fraction: float, max_gap_s: float | None = None) -> None:
        self._window = max(1, window_samples)
        self._hold = hold_fraction
        self._max_gap = max_gap_s
        self.since: float | None = None
        self.last_true: float | None = None
        self.holding = False
        self._flags: deque[bool] = deque()
        self._true = 0
        self._last_judged: float | None = None
        self._unseen = 0.0  # time of the episode's gaps longer than max_gap_s

    def update(self, t: float, condition: bool | None) -> None:
        if condition is None:
            return
        gap = 0.0 if self._last_judged is None else t - self._last_judged
        self._last_judged = t
        if self.since is None:
            if not condition:
                self.holding = False
                return
            self.since = t
            self._flags.clear()
            self._true = 0
            self._unseen = 0.0
        elif self._max_gap is not None and gap > self._max_gap:
            self._unseen += gap
        self.holding = condition
        if condition:
            self.last_true = t
        self._flags.append(condition)
        self._true += condition
        if len(self._flags) > self._window:
            self._true -= self._flags.popleft()
        if len(self._flags) >= MIN_SAMPLES_TO_END and self._true < self._hold * len(self._flags):
            self.since = None
            self.holding = False

    def run(self, t: npt.NDArray[np.float64], met: npt.NDArray[np.bool_], rule_s: float
            ) -> list[tuple[float, float | None, float | None, float]]:
        """`update(t[i], met[i])` for consecutive judged samples, with numpy per episode instead of
        per sample. Returns (since, fire, end, held) for each episode alive in them: `fire` the
        first sample at which it held and had held for `rule_s` (`held` s then), `end` the sample
        that ended it (None: not in these samples)."""
        out: list[tuple[float, float | None, float | None, float]] = []
        pos, n, w = 0, met.size, self._window
        while pos < n:
            continuing = self.since is not None
            if not continuing:
                hits = met[pos:].nonzero()[0]
                if not hits.size:
                    self.holding = False
                    break
                pos += int(hits[0])
                self.since = float(t[pos])
                self._flags.clear()
                self._true = 0
                self._unseen = 0.0
            since = self.since
            assert since is not None
            prior = np.fromiter(self._flags, dtype=bool, count=len(self._flags)) if continuing else None
            look = RUN_LOOKAHEAD
            while True:  # most episodes end soon: look for the end in a prefix first, then in all the rest
                seg = met[pos:pos + look]
                if prior is None and seg.size <= w:  # a fresh episode inside its first window: fewer arrays
                    flags = seg
                    length = np.arange(1, seg.size + 1)
                    true = seg.cumsum()
                else:
                    flags = seg if prior is None else np.concatenate((prior, seg))
                    csum = np.concatenate((_ZERO, flags.cumsum()))
                    k = np.arange(flags.size - seg.size, flags.size)
                    length = np.minimum(k + 1, w)
                    true = csum[k + 1] - csum[k + 1 - length]
                ends = ((length >= MIN_SAMPLES_TO_END) & (true < self._hold * length)).nonzero()[0]
                if ends.size or pos + look >= n:
                    break
                look = n - pos
            stop = int(ends[0]) if ends.size else seg.size  # seg index of the ending sample
            ts = t[pos:pos + seg.size]
            unseen: npt.NDArray[np.float64] | float = self._unseen  # while no gap is longer than max_gap
            if self._max_gap is not None:
                before = self._last_judged if continuing and self._last_judged is not None else float(ts[0])
                gaps = np.empty(ts.size)
                gaps[0] = ts[0] - before
                np.subtract(ts[1:], ts[:-1], out=gaps[1:])
                if gaps.max() > self._max_gap:
                    unseen = self._unseen + (gaps * (gaps > self._max_gap)).cumsum()
            held = ts - since - unseen
            fires = (seg[:stop] & (held[:stop] >= rule_s)).nonzero()[0]
            fire = (float(ts[fires[0]]), float(held[fires[0]])) if fires.size else None
            trues = (seg[:stop + 1] if ends.size else seg).nonzero()[0]
            if trues.size:
                self.last_true = float(ts[int(trues[-1])])
            last = stop if ends.size else seg.size - 1
            self._last_judged = float(ts[last])
            self._unseen = float(unseen[last]) if isinstance(unseen, np.ndarray) else unseen
            report = (since, None if fire is None else fire[0], float(ts[stop]) if ends.size else None,
                      0.0 if fire is None else fire[1])
            out.append(report)
            if ends.size:
                self.since = None
                self.holding = False
                pos += stop + 1
                continue
            tail = flags[-w:]
            self._flags = deque(tail.tolist())
            self._true = int(tail.sum())
            self.holding = bool(seg[-1])
            break
        if n:
            self._last_judged = float(t[-1])
        return out

    def held_for(self) -> float:
        """Seconds the condition was seen to hold: from the episode's start to the last sample
        meeting it, less the gaps longer than `max_gap_s`."""
        if self.since is None or self.last_true is None:
            return 0.0
        return self.last_true - self.since - self._unseen

    def reset(self) -> None:
        self.since = None
        self.holding = False
