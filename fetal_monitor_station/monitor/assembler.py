"""Turn decoded monitor events into 4 Hz `CtgSample`s (pure; the clock is passed in).

The monitor sends no timestamps. Heart rate 1 arrives 4x/s (penlift "00" included), so it is
the sample clock: each HR1 message closes one sample holding the latest HR2 / UA / movement
seen, provided they are fresher than `HOLD_S`. Event marks and detected movements are
latched into the next sample. Sample times sit on a quarter-second grid of host time (UNIX seconds): consecutive
samples are exactly one period apart while the host clock agrees within `RESYNC_S`; after a
gap (unplug, monitor off) the grid restarts at the host time and the gap is counted. A
monitor running ahead of the host clock by more than `RESYNC_S` has its samples dropped
(counted in `overruns`) so that time never goes backwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from fetal_monitor_station.monitor.events import (
    EventMark,
    FetalMovement,
    FetalMovementState,
    HeartRate,
    HrRole,
    MonitorEvent,
    UterineActivity,
)
from fetal_monitor_station.trace import SAMPLE_HZ, CtgSample

SAMPLE_PERIOD_S = 1.0 / SAMPLE_HZ
HOLD_S = 1.0  # a channel value older than this is reported as no signal
RESYNC_S = 2.0  # host clock this far from the sample grid restarts the grid (a gap)


@dataclass
class _Held:
    value: int | None = None
    at_s: float = float("-inf")


class SampleAssembler:
    def __init__(self, resync_s: float = RESYNC_S) -> None:
        self._resync_s = resync_s
        self._hr2 = _Held()
        self._mhr = _Held()
        self._ua = _Held()
        self._movement = False
        self._mark = False
        self._last_t_s: float | None = None
        self.gaps = 0
        self.overruns = 0
        self.samples = 0

    def push(self, event: MonitorEvent, now_s: float, roles: tuple[HrRole, HrRole]) -> CtgSample | None:
        """Feed one event received at host time `now_s`; returns a sample when HR1 closes one."""
        if isinstance(event, HeartRate):
            role = roles[event.channel - 1]
            if event.channel == 1:
                return self._close(event.hr_bpm if role is HrRole.FETAL else None,
                                   event.hr_bpm if role is HrRole.MATERNAL else None, now_s)
            if role is HrRole.FETAL:
                self._hr2 = _Held(event.hr_bpm, now_s)
            elif role is HrRole.MATERNAL:
                self._mhr = _Held(event.hr_bpm, now_s)
        elif isinstance(event, UterineActivity):
            self._ua = _Held(event.toco, now_s)
        elif isinstance(event, FetalMovement):
            if event.state is FetalMovementState.DETECTED:
                self._movement = True
        elif isinstance(event, EventMark):
            self._mark = True
        return None

    def _fresh(self, held: _Held, now_s: float) -> int | None:
        return held.value if now_s - held.at_s <= HOLD_S else None

    def _next_t(self, now_s: float) -> float | None:
        grid = round(now_s * SAMPLE_HZ) / SAMPLE_HZ
        if self._last_t_s is None:
            return grid
        expected = self._last_t_s + SAMPLE_PERIOD_S
        if now_s - expected > self._resync_s:
            self.gaps += 1
            return grid
        if expected - now_s > self._resync_s:
            self.overruns += 1
            return None
        return expected

    def _close(self, fhr1: int | None, mhr1: int | None, now_s: float) -> CtgSample | None:
        t_s = self._next_t(now_s)
        if t_s is None:
            self._mark = self._movement = False
            return None
        self._last_t_s = t_s
        mhr = mhr1 if mhr1 is not None else self._fresh(self._mhr, now_s)
        sample = CtgSample(
            t_s=t_s,
            fhr1_bpm=None if fhr1 is None else float(fhr1),
            fhr2_bpm=_f(self._fresh(self._hr2, now_s)),
            mhr_bpm=_f(mhr),
            toco=_f(self._fresh(self._ua, now_s)),
            movement=self._movement,
            mark=self._mark,
        )
        self._mark = self._movement = False
        self.samples += 1
        return sample


def _f(v: int | None) -> float | None:
    return None if v is None else float(v)
