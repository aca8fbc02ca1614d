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

import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from ..analysis.events import FIGO_PATHOLOGICAL, NICHD_III, AnalysisEvent, Snapshot
from ..trace import SAMPLE_HZ, FloatArray
from .baseline_rule import BaselineRateRule, LevelTracker, baseline_near
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
BoolArray = npt.NDArray[np.bool_]
HISTORY_LENGTH = 2000
TIMED_KINDS = (FHR_HIGH_LIMIT, FHR_LOW_LIMIT, PROLONGED_DECELERATION, SIGNAL_LOSS, MATERNAL_COINCIDENCE,
               REDUCED_VARIABILITY)
# a limit alarm is not raised while the clinical alarm it would repeat is active (one alarm per condition)
COVERED_BY = {FHR_HIGH_LIMIT: (TACHYCARDIA,), FHR_LOW_LIMIT: (BRADYCARDIA, PROLONGED_DECELERATION)}
RETURN_MIN_BELOW_LIVE_BPM = 10.0  # a recent baseline this far below the live one means the live one lags



def _in_force(values: list[float | None], ends: list[int], n: int) -> FloatArray:
    """Per sample of a block, a snapshot value as `update` would see it (NaN = None): `values[0]`
    the one before the block, `values[j + 1]` that of the snapshot after sample `ends[j]`, in force
    from that sample until the next knot's."""
    out = np.empty(n)
    a = 0
    for prev, x, e in zip(values[:-1], values[1:], ends, strict=True):
        out[a:e] = np.nan if prev is None else prev
        out[e] = np.nan if x is None else x
        a = e + 1
    return out


class _Bed:
    def __init__(self, th: AlarmThresholds) -> None:
        self.th = th
        w = int(th.episode_window_s * SAMPLE_HZ)
        self.timers = {k: ConditionTimer(w, th.hold_fraction) for k in TIMED_KINDS}
        self.timers[SIGNAL_LOSS] = ConditionTimer(w, th.signal_loss_hold_fraction)
        self.timers[PROLONGED_DECELERATION] = ConditionTimer(w, th.prolonged_decel_hold_fraction,
                                                             th.prolonged_decel_max_gap_s)
        self.rule_s = {FHR_HIGH_LIMIT: th.fhr_limit_delay_s, FHR_LOW_LIMIT: th.fhr_limit_delay_s,
                       PROLONGED_DECELERATION: th.prolonged_decel_s, SIGNAL_LOSS: th.signal_loss_s,
                       MATERNAL_COINCIDENCE: th.coincidence_s, REDUCED_VARIABILITY: th.reduced_variability_s}
        self.levels = LevelTracker()
        self.rate_rules = {TACHYCARDIA: (BaselineRateRule(1, th.tachycardia_bpm), th.tachycardia_s),
                           BRADYCARDIA: (BaselineRateRule(-1, th.bradycardia_bpm), th.bradycardia_s)}
        self.last_update: float | None = None
        self.connected = True
        # the snapshot's live baseline and variability as of the last update (both change only
        # at the analyzer's knots): in force for the samples of the next block but its last
        self.live_baseline: float | None = None
        self.variability: float | None = None


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
        self._defer = False  # update_block logs its changes itself, in time order

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
        """One sample: `snapshot` taken right after the analyzer's `push` of it."""
        bed = self._bed(bed_id)
        now = self._clock()
        out = self._arrived(bed_id, bed, now)
        t, f = snapshot.t_s, snapshot.fhr_bpm
        epoch = bed.levels.push(t, f)
        out += self._sample(bed_id, bed, t, now, f, snapshot.live_baseline_bpm, snapshot.mhr_bpm,
                            snapshot.variability_bpm, epoch, TIMED_KINDS)
        out += self._end_of_update(bed_id, bed, snapshot, now)
        return out

    def update_block(self, bed_id: str, events: Iterable[AnalysisEvent], snapshot: Snapshot,
                     fhr: FloatArray, mhr: FloatArray, knots: Sequence[tuple[int, Snapshot]] = ()
                     ) -> list[AlarmChange]:
        """Consecutive samples at once (offline): `fhr`/`mhr` the samples pushed since the last
        update as the analysis took them (NaN = none), ending at `snapshot` (taken after the last);
        `knots` the snapshots taken after the analyzer's knots inside the block, as (index of the
        sample after which each was taken, snapshot), in order (several knots per call: the fixed
        cost of a call is paid once). The same alarms at the same sample times as `update` on each
        sample, as long as the live baseline and variability change only at those samples (the
        analyzer's knots). The rate rules go by the block's 10-s epochs; each timed kind's
        conditions are computed with numpy and its timer is stepped only through its open
        episodes; escalations are then placed at the samples `update` would make them at. Kinds
        that depend on each other's alarms (the FHR limits) make the block go sample by sample, as
        `update`. Clock time of a sample: the clock now minus how far the sample is before the last."""
        n = int(fhr.size)
        if fhr.ndim != 1 or mhr.shape != fhr.shape:
            raise ValueError(f"update_block needs fhr and mhr of one length, got {fhr.shape} and {mhr.shape}")
        ends = [i for i, _ in knots]
        bounds = ends + [n - 1]
        if any(not 0 <= a < b for a, b in zip(bounds, bounds[1:], strict=False)):
            raise ValueError(f"update_block knots must be increasing sample indices before the last, got {ends}")
        if n == 0:
            return []
        bed = self._bed(bed_id)
        now_end = self._clock()
        out = self._arrived(bed_id, bed, now_end)
        t0 = snapshot.t_s - (n - 1) / SAMPLE_HZ
        shift = now_end - snapshot.t_s
        snaps = [s for _, s in knots] + [snapshot]
        ends.append(n - 1)
        if len(ends) > 1 and self._by_sample_needed(bed_id, bed, fhr):
            a = 0  # a knot at a time: only the knots that need it go sample by sample
            for e, s in zip(ends, snaps, strict=True):
                out += self._segment(bed_id, bed, fhr[a:e + 1], mhr[a:e + 1], t0 + a / SAMPLE_HZ, shift, [e - a],
                                     [s], now_end if e == n - 1 else t0 + e / SAMPLE_HZ + shift)
                a = e + 1
            return out
        return out + self._segment(bed_id, bed, fhr, mhr, t0, shift, ends, snaps, now_end)

    def _by_sample_needed(self, bed_id: str, bed: _Bed, fhr: FloatArray) -> bool:
        """Kinds that depend on each other's alarms (the FHR limits, and an alarm whose episode has
        ended, cleared by the limits' delayed rule) may change in these samples."""
        th = bed.th
        return any(bed.timers[k].since is not None or (bed_id, k) in self._active for k in COVERED_BY) or any(
            bed.timers[k].since is None and (bed_id, k) in self._active for k in TIMED_KINDS) or \
            float(np.fmax.reduce(fhr)) > th.fhr_high_limit_bpm or float(np.fmin.reduce(fhr)) < th.fhr_low_limit_bpm

    def _segment(self, bed_id: str, bed: _Bed, fhr: FloatArray, mhr: FloatArray, t0: float, shift: float,
                 ends: list[int], snaps: list[Snapshot], now_end: float) -> list[AlarmChange]:
        """`update_block` on samples from time `t0` whose knots (the last one at the last sample) are
        `ends` with `snaps`."""
        n = fhr.size
        out: list[AlarmChange] = []
        snapshot = snaps[-1]
        lbs = [bed.live_baseline] + [s.live_baseline_bpm for s in snaps]
        vs = [bed.variability] + [s.variability_bpm for s in snaps]
        lb, v = _in_force(lbs, ends, n), _in_force(vs, ends, n)
        lowest = float(np.fmin.reduce(fhr))  # NaN only if all are
        if self._by_sample_needed(bed_id, bed, fhr):
            out += self._block_by_sample(bed_id, bed, fhr, mhr, t0, shift, lb, v, ends, snaps, now_end)
            out += self._end_of_update(bed_id, bed, snapshot, now_end)
            out.sort(key=lambda c: c.at)  # stable: the changes of one sample keep their order
            return out
        start = {k: a for k, a in self._active.items() if k[0] == bed_id}
        self._defer = True  # the changes go to the history once escalations are in place
        try:
            changes: list[AlarmChange] = []
            level0, baselines0 = bed.levels.level, bed.levels.baselines
            closes = bed.levels.push_block(t0, fhr)
            if self._rate_quiet(bed_id, bed, closes):
                for rule, _ in bed.rate_rules.values():
                    rule.holding = False
            else:
                for i, st, level, _ in closes:
                    t = t0 + i / SAMPLE_HZ
                    changes += self._rate_epoch(bed_id, bed, st, level, t, t + shift)
            for kind, valid, met in self._conditions(bed_id, bed, fhr, mhr, lowest, lb, v, lbs, vs, level0,
                                                     baselines0, closes):
                changes += self._run_timer(bed_id, bed, kind, valid, met, t0, shift)
            for e, s in zip(ends, snaps, strict=True):
                changes += self._classification(bed_id, bed, s, now_end if e == n - 1 else t0 + e / SAMPLE_HZ + shift)
        finally:
            self._defer = False
        changes.sort(key=lambda c: c.at)  # stable: the changes of one sample keep their order
        changes = self._with_escalations(bed, changes, start, t0, shift, n, now_end)
        self.history.extend(changes)
        return out + changes

    def _with_escalations(self, bed: _Bed, changes: list[AlarmChange], start: dict[tuple[str, str], Alarm],
                          t0: float, shift: float, n: int, now_end: float) -> list[AlarmChange]:
        """`changes` (time order) with the escalations `update` would make at the block's samples
        (after each sample's own changes): an unacknowledged alarm below high goes up one priority
        at the first sample `escalate_after_s` after it was raised (or last escalated) while it is
        active; a clear carries the priority its alarm had reached. `start`: the bed's alarms
        active before the block (each alarm escalates on its own times only)."""
        esc = bed.th.escalate_after_s
        escalations: list[AlarmChange] = []

        def now_at(i: int) -> float:
            return now_end if i == n - 1 else t0 + i / SAMPLE_HZ + shift

        def first_due(base: float) -> int:  # the first sample with now - base >= esc (n: none)
            i = min(n - 1, max(0, math.ceil((base + esc - shift - t0) * SAMPLE_HZ)))
            while i > 0 and now_at(i - 1) - base >= esc:
                i -= 1
            while i < n and now_at(i) - base < esc:
                i += 1
            return i

        def escalated(a: Alarm, until: float | None) -> Alarm:  # until: its clear (None: active at the end)
            while a.acked_by is None and a.priority < Priority.HIGH:
                i = first_due(a.escalated_at if a.escalated_at is not None else a.raised_at)
                if i >= n or (until is not None and now_at(i) >= until):
                    break
                at = now_at(i)
                a = replace(a, priority=Priority(a.priority + 1), escalated_at=at)
                escalations.append(AlarmChange(CHANGE_ESCALATED, a, at))
            return a

        live = dict(start)
        out: list[AlarmChange] = []
        for c in changes:
            key = (c.alarm.bed_id, c.alarm.kind)
            if c.change == CHANGE_RAISED:
                live[key] = c.alarm
            elif c.change == CHANGE_CLEARED and key in live:
                a = escalated(live.pop(key), c.at)
                c = AlarmChange(c.change, replace(a, cleared_at=c.at), c.at)
            out.append(c)
        for key, a in live.items():
            up = escalated(a, None)
            if up is not a:
                self._active[key] = up
        if not escalations:
            return out
        out += escalations
        out.sort(key=lambda c: c.at)  # stable: an escalation comes after the changes of its sample
        return out

    def _rate_quiet(self, bed_id: str, bed: _Bed, closes: list[tuple[int, float, float | None, tuple[float, ...]]]
                    ) -> bool:
        """No rate episode or alarm open and every epoch level (if any) within the limits: the rate
        rules would only note 'not holding'."""
        if any(rule.since is not None or (bed_id, kind) in self._active for kind, (rule, _) in bed.rate_rules.items()):
            return False
        levels = [lvl for _, _, lvl, _ in closes if lvl is not None]
        return not levels or (bed.th.bradycardia_bpm <= min(levels) and max(levels) <= bed.th.tachycardia_bpm)

    def _block_by_sample(self, bed_id: str, bed: _Bed, fhr: FloatArray, mhr: FloatArray, t0: float, shift: float,
                         lb: FloatArray, v: FloatArray, ends: list[int], snaps: list[Snapshot], now_end: float
                         ) -> list[AlarmChange]:
        """`update` on each sample but the last (its end of update is the caller's)."""
        out: list[AlarmChange] = []
        n = fhr.size
        levels = bed.levels
        knot_at = dict(zip(ends, snaps, strict=True))
        for i, (f, m, b, w) in enumerate(zip(fhr.tolist(), mhr.tolist(), lb.tolist(), v.tolist(), strict=True)):
            t = t0 + i / SAMPLE_HZ
            now = t + shift
            f = None if f != f else f
            m = None if m != m else m
            out += self._sample(bed_id, bed, t, now, f, None if b != b else b, m, None if w != w else w,
                                levels.push(t, f), TIMED_KINDS)
            if i == n - 1:
                break
            snap = knot_at.get(i)
            if snap is not None:
                out += self._end_of_update(bed_id, bed, snap, now)
            elif self._active:
                out += self._escalate(now, bed_id)
        return out

    def _conditions(self, bed_id: str, bed: _Bed, fhr: FloatArray, mhr: FloatArray, lowest: float,
                    lb: FloatArray, v: FloatArray, lbs: list[float | None], vs: list[float | None],
                    level0: float | None, baselines0: tuple[float, ...],
                    closes: list[tuple[int, float, float | None, tuple[float, ...]]]
                    ) -> list[tuple[str, BoolArray, BoolArray]]:
        """(kind, judged, met) per sample of a block, the same values as `_condition` on each
        sample, for the kinds `_run_timer` steps (not the FHR limits) that may change in it (an
        episode or alarm open, or the condition met somewhere)."""
        th = bed.th
        n = fhr.size
        out: list[tuple[str, BoolArray, BoolArray]] = []

        def idle(kind: str) -> bool:
            return bed.timers[kind].since is None and (bed_id, kind) not in self._active

        gaps = bool(np.isnan(fhr).any())
        has_f = ~np.isnan(fhr) if gaps else np.ones(n, dtype=bool)
        drop = th.prolonged_decel_drop_bpm
        below = [x - drop for x in lbs if x is not None]
        with np.errstate(invalid="ignore"):
            if not below or not lowest < max(below):  # no sample can be below the live baseline - drop
                decel = np.zeros(n, dtype=bool)
            else:
                decel = fhr < lb - drop
            if decel.any():  # the return exception, on the epoch level in force at each sample
                bounds = [(0, level0, baselines0)] + [(i, lvl, bl) for i, _, lvl, bl in closes]
                for k, (a, lvl, bl) in enumerate(bounds):
                    b = bounds[k + 1][0] if k + 1 < len(bounds) else n
                    if lvl is None or not decel[a:b].any():
                        continue
                    back = baseline_near(bl, lvl)
                    if back is not None:
                        decel[a:b] &= back > lb[a:b] - RETURN_MIN_BELOW_LIVE_BPM
            if not idle(PROLONGED_DECELERATION) or decel.any():
                out.append((PROLONGED_DECELERATION, has_f & ~np.isnan(lb), decel))
            if not idle(SIGNAL_LOSS) or gaps:
                out.append((SIGNAL_LOSS, np.ones(n, dtype=bool), ~has_f))
            coin = np.abs(fhr - mhr) < th.coincidence_bpm
            if not idle(MATERNAL_COINCIDENCE) or coin.any():
                out.append((MATERNAL_COINCIDENCE, has_f & ~np.isnan(mhr), coin))
            lim = th.reduced_variability_bpm
            if not idle(REDUCED_VARIABILITY) or any(x is not None and x < lim for x in vs):
                out.append((REDUCED_VARIABILITY, ~np.isnan(v), v < lim))
        return out

    def _run_timer(self, bed_id: str, bed: _Bed, kind: str, valid: BoolArray, met: BoolArray, t0: float,
                   shift: float) -> list[AlarmChange]:
        """One kind's timer through a block (unjudged samples change nothing): raised at the sample
        an episode reaches its rule time, cleared at the sample that ends it."""
        out: list[AlarmChange] = []
        timer = bed.timers[kind]
        key = (bed_id, kind)
        if timer.since is None and not (met & valid).any():
            return out
        judged = valid.nonzero()[0]
        for since, fire, end, held in timer.run(t0 + judged / SAMPLE_HZ, met[judged], bed.rule_s[kind]):
            if fire is not None:
                out += self._raise(bed_id, kind, fire + shift, since, f"{kind.replace('_', ' ')} for {held:.0f} s")
            if end is not None and key in self._active:
                out += self._clear(bed_id, kind, end + shift)
        return out

    def _arrived(self, bed_id: str, bed: _Bed, now: float) -> list[AlarmChange]:
        bed.last_update = now
        if not bed.connected or (bed_id, DISCONNECTED) in self._active:
            bed.connected = True
            return self._clear(bed_id, DISCONNECTED, now)
        return []

    def _condition(self, bed: _Bed, kind: str, f: float | None, lb: float | None, m: float | None,
                   v: float | None) -> bool | None:
        """The condition of a timed kind on one sample (None: cannot be judged, neither feeds nor ends)."""
        th = bed.th
        if kind == SIGNAL_LOSS:
            return f is None
        if kind == REDUCED_VARIABILITY:  # settled: median band of the last 10 settled minutes
            return None if v is None else v < th.reduced_variability_bpm
        if f is None:
            return None
        if kind == FHR_HIGH_LIMIT:
            return f > th.fhr_high_limit_bpm
        if kind == FHR_LOW_LIMIT:
            return f < th.fhr_low_limit_bpm
        if kind == MATERNAL_COINCIDENCE:
            return None if m is None else abs(f - m) < th.coincidence_bpm
        if lb is None:  # prolonged deceleration
            return None
        decel = f < lb - th.prolonged_decel_drop_bpm
        level = bed.levels.level
        if decel and level is not None:
            back = bed.levels.recent_baseline_near(level)  # a return from a shift, not a deceleration
            decel = back is None or back > lb - RETURN_MIN_BELOW_LIVE_BPM
        return decel

    def _rate_epoch(self, bed_id: str, bed: _Bed, start_s: float, level: float | None, t: float,
                    now: float) -> list[AlarmChange]:
        """Brady/tachycardia on a closed 10-s epoch (judged at `t`, its last sample)."""
        th = bed.th
        out: list[AlarmChange] = []
        for kind, (rule, rule_s) in bed.rate_rules.items():
            rule.epoch(start_s, level, bed.levels)
            if rule.holding and rule.held_for() >= rule_s:
                limit = th.tachycardia_bpm if kind == TACHYCARDIA else th.bradycardia_bpm
                side = ">" if kind == TACHYCARDIA else "<"
                out += self._raise(bed_id, kind, now, t if rule.since is None else rule.since,
                                   f"baseline {side} {limit:.0f} bpm for {rule.held_for():.0f} s")
            elif rule.since is None and (bed_id, kind) in self._active:
                if t - rule.last_held_s >= th.rate_clear_after_s:  # a brief lapse neither clears nor re-raises
                    out += self._clear(bed_id, kind, now)
        return out

    def _sample(self, bed_id: str, bed: _Bed, t: float, now: float, f: float | None, lb: float | None,
                m: float | None, v: float | None, epoch: tuple[float, float | None] | None,
                kinds: tuple[str, ...]) -> list[AlarmChange]:
        """One sample's rules for `kinds` (the timed kinds left out cannot change on it)."""
        out = [] if epoch is None else self._rate_epoch(bed_id, bed, epoch[0], epoch[1], t, now)
        th = bed.th
        for kind in kinds:
            timer = bed.timers[kind]
            timer.update(t, self._condition(bed, kind, f, lb, m, v))
            if timer.holding and timer.held_for() >= bed.rule_s[kind]:
                if any((bed_id, k) in self._active for k in COVERED_BY.get(kind, ())):
                    continue
                out += self._raise(bed_id, kind, now, t if timer.since is None else timer.since,
                                   f"{kind.replace('_', ' ')} for {timer.held_for():.0f} s")
            elif timer.since is None and (bed_id, kind) in self._active:
                if kind in COVERED_BY and t - (timer.last_true or t) < th.rate_clear_after_s:
                    continue  # a limit alarm hovering at its limit does not clear and re-raise
                out += self._clear(bed_id, kind, now)
        return out

    def _end_of_update(self, bed_id: str, bed: _Bed, snapshot: Snapshot, now: float) -> list[AlarmChange]:
        """The classification and escalation."""
        out = self._classification(bed_id, bed, snapshot, now)
        if self._active:
            out += self._escalate(now, bed_id)
        return out

    def _classification(self, bed_id: str, bed: _Bed, snapshot: Snapshot, now: float) -> list[AlarmChange]:
        """The pathological alarm (the classification changes only when the analysis settles a minute)."""
        th = bed.th
        bed.live_baseline, bed.variability = snapshot.live_baseline_bpm, snapshot.variability_bpm
        out: list[AlarmChange] = []
        cl = snapshot.classification
        bad = cl is not None and (cl.nichd == NICHD_III if th.lead == "nichd" else cl.figo == FIGO_PATHOLOGICAL)
        if bad and cl is not None:
            out += self._raise(bed_id, PATHOLOGICAL, now, cl.window_end_s, "; ".join(cl.reasons) or "pathological")
        elif cl is not None and (bed_id, PATHOLOGICAL) in self._active:
            out += self._clear(bed_id, PATHOLOGICAL, now)
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
        if not self._defer:
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
