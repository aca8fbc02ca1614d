"""A condition timer with time hysteresis (no alarm flood on a value hovering at a threshold).

An episode starts at the first sample meeting the condition. It lives while at least
`hold_fraction` of the valid samples of the last `window_s` (or of the episode so far, if
shorter) meet it; missing samples (None) neither feed nor end it. `held_for()` is how long the
condition really held: from the episode's start to the last sample that met it, so time the
hysteresis keeps the episode alive after the condition stopped is not counted. `holding` says
whether the latest judged sample met it: a timed alarm fires only then.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt

MIN_SAMPLES_TO_END = 8  # 2 s at 4 Hz before an episode can be judged


class ConditionTimer:
    """`since`: start of the current episode (None when there is none); `holding`: the latest judged
    sample met the condition and an episode is alive; `last_true`: the last sample that met it (kept
    after the episode ends); plain attributes: read at 4 Hz per bed."""

    __slots__ = ("_window", "_hold", "since", "last_true", "holding", "_flags", "_true")

    def __init__(self, window_samples: int, hold_fraction: float) -> None:
        self._window = max(1, window_samples)
        self._hold = hold_fraction
        self.since: float | None = None
        self.last_true: float | None = None
        self.holding = False
        self._flags: deque[bool] = deque()
        self._true = 0

    def update(self, t: float, condition: bool | None) -> None:
        if condition is None:
            return
        if self.since is None:
            if not condition:
                self.holding = False
                return
            self.since = t
            self._flags.clear()
            self._true = 0
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
            ) -> list[tuple[float, float | None, float | None]]:
        """`update(t[i], met[i])` for consecutive judged samples, with numpy per episode instead of
        per sample. Returns (since, fire, end) for each episode alive in them: `fire` the first
        sample at which it held and had held for `rule_s`, `end` the sample that ended it (None:
        not in these samples)."""
        out: list[tuple[float, float | None, float | None]] = []
        pos, n, w = 0, met.size, self._window
        while pos < n:
            if self.since is None:
                hits = np.flatnonzero(met[pos:])
                if not hits.size:
                    self.holding = False
                    break
                pos += int(hits[0])
                self.since = float(t[pos])
                self._flags.clear()
                self._true = 0
            since = self.since
            prior = np.fromiter(self._flags, dtype=bool, count=len(self._flags))
            seg = met[pos:]
            flags = np.concatenate((prior, seg))
            csum = np.concatenate(([0], np.cumsum(flags)))
            k = np.arange(prior.size, flags.size)
            length = np.minimum(k + 1, w)
            true = csum[k + 1] - csum[k + 1 - length]
            ends = np.flatnonzero((length >= MIN_SAMPLES_TO_END) & (true < self._hold * length))
            stop = int(ends[0]) if ends.size else seg.size  # seg index of the ending sample
            ts = t[pos:pos + stop]
            fires = np.flatnonzero(seg[:stop] & (ts - since >= rule_s))
            fire = float(ts[fires[0]]) if fires.size else None
            trues = np.flatnonzero(seg[:stop + 1] if ends.size else seg)
            if trues.size:
                self.last_true = float(t[pos + int(trues[-1])])
            if ends.size:
                out.append((since, fire, float(t[pos + stop])))
                self.since = None
                self.holding = False
                pos += stop + 1
                continue
            out.append((since, fire, None))
            tail = flags[-w:].tolist()
            self._flags = deque(tail)
            self._true = int(sum(tail))
            self.holding = bool(seg[-1])
            break
        return out

    def held_for(self) -> float:
        """Seconds from the episode's start to the last sample meeting the condition."""
        if self.since is None or self.last_true is None:
            return 0.0
        return self.last_true - self.since

    def reset(self) -> None:
        self.since = None
        self.holding = False
