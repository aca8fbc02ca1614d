"""AlarmManager: turns each bed's analysis snapshots into raised / escalated / cleared alarms.

The station runtime calls `update(bed_id, events, snapshot)` after every `push` of that bed's
analyzer (rule durations are measured in sample time, so an alarm fires on the sample that
completes its rule time; reduced variability is timed on the settled per-minute variability,
which lags the trace by 5-6 min), `tick()` about once a second (disconnection and escalation, in
clock time), and `ack(alarm_id, nurse_id)` from the UI. One alarm per (bed, kind) at most:
a condition that persists does not raise again, and it must lapse (hysteresis) before a new
alarm of that kind can start its rule time afresh.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace

from ..analysis.events import FIGO_PATHOLOGICAL, NICHD_III, AnalysisEvent, Snapshot
from ..trace import SAMPLE_HZ
from .baseline_rule import BaselineRateRule, LevelTracker
from .model import (
    BRADYCARDIA,
    CHANGE_ACKNOWLEDGED,
    CHANGE_CLEARED,
    CHANGE_ESCALATED,
    CHANGE_RAISED,
    DISCONNECTED,
    FHR_HIGH_LIMIT,
    FHR_LOW_LIMIT,
    MATERNAL_COINCIDENCE,
    PATHOLOGICAL,
    PROLONGED_DECELERATION,
    REDUCED_VARIABILITY,
    SIGNAL_LOSS,
    TACHYCARDIA,
    Alarm,
    AlarmChange,
    AlarmThresholds,
    Priority,
    ThresholdTable,
)
from .timer import ConditionTimer

Clock = Callable[[], float]
HISTORY_LENGTH = 2000
TIMED_KINDS = (FHR_HIGH_LIMIT, FHR_LOW_LIMIT, PROLONGED_DECELERATION, SIGNAL_LOSS, MATERNAL_COINCIDENCE,
               REDUCED_VARIABILITY)
# a limit alarm is not raised while the clinical alarm it would repeat is active (one alarm per condition)
COVERED_BY = {FHR_HIGH_LIMIT: (TACHYCARDIA,), FHR_LOW_LIMIT: (BRADYCARDIA, PROLONGED_DECELERATION)}
RETURN_MIN_BELOW_LIVE_BPM = 10.0  # a recent baseline this far below the live one means the live one lags


class _Bed:
    def __init__(self, th: AlarmThresholds) -> None:
        self.th = th
        w = int(th.episode_window_s * SAMPLE_HZ)
        self.timers = {k: ConditionTimer(w, th.hold_fraction) for k in TIMED_KINDS}
        self.timers[PROLONGED_DECELERATION] = ConditionTimer(w, th.prolonged_decel_hold_fraction)
        self.rule_s = {FHR_HIGH_LIMIT: th.fhr_limit_delay_s, FHR_LOW_LIMIT: th.fhr_limit_delay_s,
                       PROLONGED_DECELERATION: th.prolonged_decel_s, SIGNAL_LOSS: th.signal_loss_s,
                       MATERNAL_COINCIDENCE: th.coincidence_s, REDUCED_VARIABILITY: th.reduced_variability_s}
        self.levels = LevelTracker()
        self.rate_rules = {TACHYCARDIA: (BaselineRateRule(1, th.tachycardia_bpm), th.tachycardia_s),
                           BRADYCARDIA: (BaselineRateRule(-1, th.bradycardia_bpm), th.bradycardia_s)}
        self.last_update: float | None = None
        self.connected = True


class AlarmManager:
    def __init__(self, thresholds: ThresholdTable | AlarmThresholds | None = None, clock: Clock | None = None) -> None:
        if thresholds is None:
            thresholds = ThresholdTable()
        self._table = thresholds if isinstance(thresholds, ThresholdTable) else ThresholdTable(ward=thresholds)
        if clock is None:
            raise ValueError("AlarmManager needs a clock (time.monotonic in the station, a fake in tests)")
        self._clock = clock
        self._beds: dict[str, _Bed] = {}
        self._active: dict[tuple[str, str], Alarm] = {}
        self._by_id: dict[int, tuple[str, str]] = {}
        self._next_id = 1
        self.history: deque[AlarmChange] = deque(maxlen=HISTORY_LENGTH)

    def _bed(self, bed_id: str) -> _Bed:
        bed = self._beds.get(bed_id)
        if bed is None:
            bed = self._beds[bed_id] = _Bed(self._table.for_bed(bed_id))
        return bed

    def configure_bed(self, bed_id: str, **overrides: object) -> None:
        """Per-bed thresholds (e.g. a post-date bed with bradycardia_bpm=100); restarts its timers."""
        beds = dict(self._table.beds)
        beds[bed_id] = {**beds.get(bed_id, {}), **overrides}
        self._table = ThresholdTable(self._table.ward, beds)
        self._beds[bed_id] = _Bed(self._table.for_bed(bed_id))

    # ------------------------------------------------------------------ inputs
    def update(self, bed_id: str, events: Iterable[AnalysisEvent], snapshot: Snapshot) -> list[AlarmChange]:
        bed = self._bed(bed_id)
        th = bed.th
        now = self._clock()
        bed.last_update = now
        out: list[AlarmChange] = []
        if not bed.connected or (bed_id, DISCONNECTED) in self._active:
            bed.connected = True
            out += self._clear(bed_id, DISCONNECTED, now)
        t = snapshot.t_s
        f, lb, m = snapshot.fhr_bpm, snapshot.live_baseline_bpm, snapshot.mhr_bpm
        tm = bed.timers
        levels = bed.levels
        epoch = levels.push(t, f)
        if epoch is not None:
            for kind, (rule, rule_s) in bed.rate_rules.items():
                rule.epoch(epoch[0], epoch[1], levels)
                if rule.holding and rule.held_for() >= rule_s:
                    limit = th.tachycardia_bpm if kind == TACHYCARDIA else th.bradycardia_bpm
                    side = ">" if kind == TACHYCARDIA else "<"
                    out += self._raise(bed_id, kind, now, rule.since or t,
                                       f"baseline {side} {limit:.0f} bpm for {rule.held_for():.0f} s")
                elif rule.since is None and (bed_id, kind) in self._active:
                    if t - rule.last_held_s >= th.rate_clear_after_s:  # a brief lapse neither clears nor re-raises
                        out += self._clear(bed_id, kind, now)
        tm[FHR_HIGH_LIMIT].update(t, None if f is None else f > th.fhr_high_limit_bpm)
        tm[FHR_LOW_LIMIT].update(t, None if f is None else f < th.fhr_low_limit_bpm)
        decel = None
        if f is not None and lb is not None:
            decel = f < lb - th.prolonged_decel_drop_bpm
            if decel and levels.level is not None:
                back = levels.recent_baseline_near(levels.level)  # a return from a shift, not a deceleration
                decel = back is None or back > lb - RETURN_MIN_BELOW_LIVE_BPM
        tm[PROLONGED_DECELERATION].update(t, decel)
        tm[SIGNAL_LOSS].update(t, f is None)
        tm[MATERNAL_COINCIDENCE].update(t, None if f is None or m is None else abs(f - m) < th.coincidence_bpm)
        v = snapshot.variability_bpm  # settled: median band of the last 10 settled minutes
        tm[REDUCED_VARIABILITY].update(t, None if v is None else v < th.reduced_variability_bpm)
        for kind in TIMED_KINDS:
            timer = tm[kind]
            if timer.holding and timer.held_for() >= bed.rule_s[kind]:
                if any((bed_id, k) in self._active for k in COVERED_BY.get(kind, ())):
                    continue
                out += self._raise(bed_id, kind, now, timer.since or t,
                                   f"{kind.replace('_', ' ')} for {timer.held_for():.0f} s")
            elif timer.since is None and (bed_id, kind) in self._active:
                if kind in COVERED_BY and t - (timer.last_true or t) < th.rate_clear_after_s:
                    continue  # a limit alarm hovering at its limit does not clear and re-raise
                out += self._clear(bed_id, kind, now)
        cl = snapshot.classification
        bad = cl is not None and (cl.nichd == NICHD_III if th.lead == "nichd" else cl.figo == FIGO_PATHOLOGICAL)
        if bad and cl is not None:
            out += self._raise(bed_id, PATHOLOGICAL, now, cl.window_end_s, "; ".join(cl.reasons) or "pathological")
        elif cl is not None and (bed_id, PATHOLOGICAL) in self._active:
            out += self._clear(bed_id, PATHOLOGICAL, now)
        if self._active:
            out += self._escalate(now, bed_id)
        return out

    def set_connected(self, bed_id: str, connected: bool) -> list[AlarmChange]:
        """The runtime reports a monitor link going down (or coming back)."""
        bed = self._bed(bed_id)
        bed.connected = connected
        now = self._clock()
        if connected:
            return self._clear(bed_id, DISCONNECTED, now)
        return self._raise(bed_id, DISCONNECTED, now, now, "monitor disconnected")

    def tick(self) -> list[AlarmChange]:
        """Clock-driven checks: silent beds (disconnection) and escalation of unacknowledged alarms."""
        now = self._clock()
        out: list[AlarmChange] = []
        for bed_id, bed in self._beds.items():
            if bed.last_update is not None and now - bed.last_update >= bed.th.disconnect_s:
                out += self._raise(bed_id, DISCONNECTED, now, bed.last_update, "no data from the monitor")
        out += self._escalate(now, None)
        return out

    def remove_bed(self, bed_id: str) -> list[AlarmChange]:
        """Discharge: clear the bed's alarms and forget its timers and last-seen time (so a
        silent, empty bed does not raise 'monitor disconnected'). Its threshold overrides stay."""
        now = self._clock()
        out: list[AlarmChange] = []
        for (b, kind) in list(self._active):
            if b == bed_id:
                out += self._clear(bed_id, kind, now)
        self._beds.pop(bed_id, None)
        return out

    def ack(self, alarm_id: int, nurse_id: str) -> AlarmChange:
        key = self._by_id.get(alarm_id)
        if key is None or key not in self._active:
            raise KeyError(f"no active alarm {alarm_id}")
        if not nurse_id:
            raise ValueError("acknowledgement needs a nurse id")
        now = self._clock()
        alarm = replace(self._active[key], acked_by=nurse_id, acked_at=now)
        self._active[key] = alarm
        return self._log(CHANGE_ACKNOWLEDGED, alarm, now)

    # ------------------------------------------------------------------ queries
    def active(self, bed_id: str | None = None) -> list[Alarm]:
        alarms = [a for (b, _), a in self._active.items() if bed_id is None or b == bed_id]
        return sorted(alarms, key=lambda a: (-a.priority, a.raised_at))

    # ------------------------------------------------------------------ internals
    def _log(self, change: str, alarm: Alarm, now: float) -> AlarmChange:
        c = AlarmChange(change, alarm, now)
        self.history.append(c)
        return c

    def _raise(self, bed_id: str, kind: str, now: float, since: float, message: str) -> list[AlarmChange]:
        th = self._bed(bed_id).th
        if (bed_id, kind) in self._active or kind not in th.enabled:
            return []
        alarm = Alarm(self._next_id, bed_id, kind, th.priorities.get(kind, Priority.MEDIUM), now, since, message)
        self._next_id += 1
        self._active[(bed_id, kind)] = alarm
        self._by_id[alarm.alarm_id] = (bed_id, kind)
        return [self._log(CHANGE_RAISED, alarm, now)]

    def _clear(self, bed_id: str, kind: str, now: float) -> list[AlarmChange]:
        alarm = self._active.pop((bed_id, kind), None)
        if alarm is None:
            return []
        self._by_id.pop(alarm.alarm_id, None)
        return [self._log(CHANGE_CLEARED, replace(alarm, cleared_at=now), now)]

    def _escalate(self, now: float, bed_id: str | None) -> list[AlarmChange]:
        out = []
        for key, a in list(self._active.items()):
            if (bed_id is not None and key[0] != bed_id) or a.acked_by is not None or a.priority >= Priority.HIGH:
                continue
            th = self._bed(key[0]).th
            if now - (a.escalated_at if a.escalated_at is not None else a.raised_at) >= th.escalate_after_s:
                up = replace(a, priority=Priority(a.priority + 1), escalated_at=now)
                self._active[key] = up
                out.append(self._log(CHANGE_ESCALATED, up, now))
        return out
