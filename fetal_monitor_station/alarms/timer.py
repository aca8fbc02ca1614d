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

MIN_SAMPLES_TO_END = 8  # 2 s at 4 Hz before an episode can be judged


class ConditionTimer:
    __slots__ = ("_window", "_hold", "_since", "_last_true", "_holding", "_flags", "_true")

    def __init__(self, window_samples: int, hold_fraction: float) -> None:
        self._window = max(1, window_samples)
        self._hold = hold_fraction
        self._since: float | None = None
        self._last_true: float | None = None
        self._holding = False
        self._flags: deque[bool] = deque()
        self._true = 0

    @property
    def since(self) -> float | None:
        """Start of the current episode (None when there is none)."""
        return self._since

    @property
    def holding(self) -> bool:
        """The latest judged sample met the condition (and an episode is alive)."""
        return self._holding and self._since is not None

    def update(self, t: float, condition: bool | None) -> None:
        if condition is None:
            return
        self._holding = condition
        if self._since is None:
            if not condition:
                return
            self._since = t
            self._flags.clear()
            self._true = 0
        if condition:
            self._last_true = t
        self._flags.append(condition)
        self._true += condition
        if len(self._flags) > self._window:
            self._true -= self._flags.popleft()
        if len(self._flags) >= MIN_SAMPLES_TO_END and self._true < self._hold * len(self._flags):
            self._since = None

    def held_for(self) -> float:
        """Seconds from the episode's start to the last sample meeting the condition."""
        if self._since is None or self._last_true is None:
            return 0.0
        return self._last_true - self._since

    def reset(self) -> None:
        self._since = None
        self._holding = False
