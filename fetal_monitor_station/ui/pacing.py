"""Refreshes on a fixed timetable (4 Hz: the monitors' sample rate).

Kivy's `schedule_interval` counts each interval from when the callback last ran, so every refresh
that came late (a frame still being rasterised by the software renderer, a busy machine) pushed
all later ones back: the nurse screen refreshed at 3.6-3.9 Hz on the loaded 2-core station. Here
the due times stay on the grid, so lateness does not add up; after a stall one refresh is made and
the grid starts again (no burst of catch-up redraws).
"""

from __future__ import annotations

EARLY_S = 0.005  # a tick this close to the due time counts (as Kivy's clock does)


class Pacer:
    """`due(now)` is True when a refresh is due; call it on every clock tick."""

    def __init__(self, period_s: float, start_s: float) -> None:
        if period_s <= 0:
            raise ValueError(f"period must be > 0 s, got {period_s}")
        self.period_s = period_s
        self._next_s = start_s + period_s

    def due(self, now_s: float) -> bool:
        if now_s < self._next_s - EARLY_S:
            return False
        late_s = now_s - self._next_s
        # behind by a whole period or more (a stall): this refresh, then a new grid from now
        self._next_s = now_s + self.period_s if late_s >= self.period_s else self._next_s + self.period_s
        return True
