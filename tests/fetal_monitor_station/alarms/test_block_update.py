"""`AlarmManager.update_block` (offline, a knot at a time) raises, escalates and clears the same
alarms at the same sample times as `update` on every sample, and its numpy parts (timer runs,
epoch levels) agree with their per-sample versions."""

from __future__ import annotations

import numpy as np
import pytest

from fetal_monitor_station.alarms import AlarmManager, AlarmThresholds
from fetal_monitor_station.alarms.baseline_rule import LevelTracker
from fetal_monitor_station.alarms.model import CHANGE_ESCALATED, CHANGE_RAISED
from fetal_monitor_station.alarms.replay import SampleClock, replay
from fetal_monitor_station.alarms.timer import ConditionTimer
from fetal_monitor_station.analysis import StreamingAnalyzer
from fetal_monitor_station.sources.synthetic import Span, SyntheticSpec, generate
from fetal_monitor_station.trace import SAMPLE_HZ, Trace


def by_sample(trace: Trace, th: AlarmThresholds) -> list:
    clock = SampleClock()
    mgr = AlarmManager(th, clock)
    an = StreamingAnalyzer()
    out = []
    for s in trace.samples():
        clock.now = s.t_s
        ev = an.push(s)
        out += mgr.update("b", ev, an.snapshot())
    return out


def by_block(trace: Trace, th: AlarmThresholds) -> list:
    clock = SampleClock()
    return replay(trace, StreamingAnalyzer(), AlarmManager(th, clock), clock, "b")[1]


def key(c) -> tuple:  # type: ignore[no-untyped-def]
    a = c.alarm
    return (c.change, a.kind, c.at, a.condition_since_s, a.priority, a.message, a.cleared_at)


def limits_trace() -> Trace:
    """FHR above 180 and below 80 for minutes (the limit alarms) and long gaps (escalation)."""
    trace, _ = generate(SyntheticSpec(duration_s=5400.0, seed=9, variability_bpm=8.0))
    fhr = trace.fhr1_bpm.copy()
    t = np.arange(fhr.size) / SAMPLE_HZ
    fhr[(t > 900) & (t < 1200)] = 185.0 + np.sin(t[(t > 900) & (t < 1200)])
    fhr[(t > 2000) & (t < 2300)] = 70.0 + np.sin(t[(t > 2000) & (t < 2300)])
    fhr[(t > 3000) & (t < 3500)] = np.nan
    return Trace.from_arrays(fhr, toco=trace.toco)


CASES = {
    "decelerations and gaps": lambda: generate(SyntheticSpec(
        duration_s=7200.0, seed=5, decel_types=("early", "late", "variable", "prolonged"),
        signal_loss_fraction=0.15, with_mhr=True))[0],
    "tachycardia and bradycardia": lambda: generate(SyntheticSpec(
        duration_s=6000.0, seed=12, decel_types=("late",), tachycardia=(Span(600.0, 2100.0, 175.0),),
        bradycardia=(Span(3300.0, 4500.0, 95.0),)))[0],
    "maternal capture": lambda: generate(SyntheticSpec(
        duration_s=3600.0, seed=4, with_mhr=True, mhr_capture=(Span(900.0, 1500.0, 0.0),)))[0],
    "reduced variability": lambda: generate(SyntheticSpec(
        duration_s=4200.0, seed=21, variability_bpm=2.0, accelerations_per_hour=0.0))[0],
    "fhr limits and escalation": limits_trace,
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_block_update_gives_the_same_alarms_as_sample_by_sample(case: str) -> None:
    trace = CASES[case]()
    th = AlarmThresholds()
    want = [key(c) for c in by_sample(trace, th)]
    assert want, "the case must raise alarms to compare"
    assert [key(c) for c in by_block(trace, th)] == want


@pytest.mark.slow
@pytest.mark.parametrize(("case", "escalate_after_s"), [
    ("decelerations and gaps", 30.0), ("maternal capture", 30.0), ("maternal capture", 120.0),
    ("fhr limits and escalation", 200.0)])
def test_escalations_inside_a_block_of_several_knots_as_sample_by_sample(case: str, escalate_after_s: float) -> None:
    """Several knots per `update_block`: an alarm raised in the block escalates at the sample
    `update` escalates it at (twice in one block at 30 s), and its clear carries the priority."""
    trace = CASES[case]()
    th = AlarmThresholds(escalate_after_s=escalate_after_s)
    want = [key(c) for c in by_sample(trace, th)]
    assert any(k[0] == CHANGE_ESCALATED for k in want), "the case must escalate to compare"
    assert [key(c) for c in by_block(trace, th)] == want


def test_a_condition_from_the_first_sample_is_reported_since_time_zero() -> None:
    """A recording that starts without signal: the signal-loss alarm's condition held since 0 s
    (per sample, a start at 0.0 was taken for 'no start' and reported as the raise time)."""
    fhr = np.full(int(300 * SAMPLE_HZ), 140.0)
    fhr[: int(90 * SAMPLE_HZ)] = np.nan
    trace = Trace.from_arrays(fhr, toco=np.full(fhr.size, 10.0))
    for changes in (by_sample(trace, AlarmThresholds()), by_block(trace, AlarmThresholds())):
        raised = [c for c in changes if c.change == CHANGE_RAISED]
        assert [(c.alarm.kind, c.at, c.alarm.condition_since_s) for c in raised] == [("signal_loss", 60.0, 0.0)]


def test_knots_of_a_block_must_be_increasing_samples_before_its_last() -> None:
    clock = SampleClock()
    mgr = AlarmManager(AlarmThresholds(), clock)
    an = StreamingAnalyzer()
    an.push_block(np.full(480, 140.0))
    snap = an.snapshot()
    for knots in ([(479, snap)], [(239, snap), (100, snap)], [(-1, snap)]):
        with pytest.raises(ValueError, match="knots"):
            mgr.update_block("b", [], snap, np.full(480, 140.0), np.full(480, np.nan), knots)
    assert list(mgr.history) == []


def test_the_cases_cover_raising_and_escalation() -> None:
    changes = by_block(limits_trace(), AlarmThresholds())
    kinds = {c.alarm.kind for c in changes if c.change == CHANGE_RAISED}
    assert {"fhr_high_limit", "fhr_low_limit", "signal_loss"} <= kinds
    assert any(c.change == CHANGE_ESCALATED for c in changes)


@pytest.mark.parametrize("seed", range(12))
def test_timer_run_matches_update(seed: int) -> None:
    """On judged samples with gaps (some longer than `max_gap_s`), cut into blocks anywhere."""
    rng = np.random.default_rng(seed)
    met = np.repeat(rng.random(60) < 0.5, rng.integers(1, 80, 60))[:2000]
    met ^= rng.random(met.size) < 0.05
    t = np.cumsum(np.where(rng.random(met.size) < 0.01, rng.uniform(1.0, 40.0, met.size), 1 / SAMPLE_HZ))
    window, hold, rule_s = int(rng.integers(8, 300)), float(rng.choice([0.5, 0.8])), float(rng.integers(2, 40))
    max_gap = None if seed % 3 == 0 else 10.0
    a, b = ConditionTimer(window, hold, max_gap), ConditionTimer(window, hold, max_gap)
    fired, ended = [], []
    for ti, m in zip(t.tolist(), met.tolist(), strict=True):
        was = a.since
        a.update(ti, m)
        if a.holding and a.held_for() >= rule_s and (not fired or fired[-1][0] != a.since):
            fired.append((a.since, ti, a.held_for()))
        if was is not None and a.since is None:
            ended.append(ti)
    got = []
    for lo, hi in ((0, 700), (700, 701), (701, 1500), (1500, met.size)):  # blocks cut anywhere
        got += b.run(t[lo:hi], met[lo:hi], rule_s)
    assert fired and _merge_fires(got) == fired
    assert [e for _, _, e, _ in got if e is not None] == ended
    assert (b.since, b.last_true, b.holding, b.held_for()) == (a.since, a.last_true, a.holding, a.held_for())


def _merge_fires(got: list) -> list:
    """An episode cut by a block boundary is reported once per block; its first fire is what counts."""
    seen: dict = {}
    for s, f, _, held in got:
        if f is not None and s not in seen:
            seen[s] = (s, f, held)
    return list(seen.values())


def test_level_tracker_block_matches_push() -> None:
    trace, _ = generate(SyntheticSpec(duration_s=5400.0, seed=3, signal_loss_fraction=0.2,
                                      tachycardia=(Span(600.0, 1800.0, 170.0),)))
    fhr = trace.fhr1_bpm
    one, blk = LevelTracker(), LevelTracker()
    want = []
    for i, f in enumerate(fhr.tolist()):
        e = one.push(i / SAMPLE_HZ, None if f != f else f)
        if e is not None:
            want.append((i, e[0], e[1], one.baselines))
    got = []
    for lo in range(0, fhr.size, 333):  # blocks not aligned to epochs
        got += [(lo + i, s, lvl, bl) for i, s, lvl, bl in blk.push_block(lo / SAMPLE_HZ, fhr[lo:lo + 333])]
    assert got == want
    assert any(bl for *_, bl in want), "the trace must produce recent baselines"


def reference_baselines(minutes: list) -> tuple:
    """Recent baselines recomputed from scratch over every 10-minute window of the remembered minutes
    (the rule before the windows' verdicts were kept): a window's median is a baseline when >= 7 of
    its >= 7 known minutes lie within 8 bpm of it; near-duplicates (within 4 bpm) once."""
    found: list = []
    for end in range(10, len(minutes) + 1):
        window = [m for m in minutes[end - 10:end] if m is not None]
        if len(window) < 7:
            continue
        mid = float(np.median(window))
        if sum(abs(m - mid) <= 8.0 for m in window) >= 7 and all(abs(mid - b) > 4.0 for b in found):
            found.append(mid)
    return tuple(found)


def test_recent_baselines_as_recomputed_from_scratch() -> None:
    """Over 2.5 h with a 30-min tachycardia: the 170 bpm baseline is found, then forgotten after the
    60-min memory, and at every minute the kept verdicts give what a full recomputation gives."""
    trace, _ = generate(SyntheticSpec(duration_s=9000.0, seed=8, signal_loss_fraction=0.1,
                                      tachycardia=(Span(600.0, 2400.0, 172.0),)))
    lt = LevelTracker()
    seen_high, checked = False, 0
    for i, f in enumerate(trace.fhr1_bpm.tolist()):
        before = len(lt._minutes), lt._epochs
        lt.push(i / SAMPLE_HZ, None if f != f else f)
        if (len(lt._minutes), lt._epochs) != before and lt._epochs == 0:  # a minute closed
            assert lt.baselines == reference_baselines(list(lt._minutes))
            seen_high |= any(b > 160 for b in lt.baselines)
            checked += 1
    assert checked == 150 and seen_high
    assert not any(b > 160 for b in lt.baselines)  # forgotten after the memory


def test_a_baseline_is_forgotten_even_when_no_new_one_forms() -> None:
    """15 min at 140 bpm, then 70 min of levels alternating 120/160 each minute (no baseline):
    the 140 bpm baseline leaves the memory after 60 min although no new window is a baseline."""
    minute = 60 * SAMPLE_HZ
    levels = [140.0] * 15 + [120.0, 160.0] * 35
    fhr = np.repeat(levels, minute)
    lt = LevelTracker()
    for i, f in enumerate(fhr.tolist()):
        lt.push(i / SAMPLE_HZ, f)
        if (i + 1) % minute == 0:
            assert lt.baselines == reference_baselines(list(lt._minutes)), f"minute {(i + 1) // minute}"
    assert lt.baselines == ()


def test_block_of_mismatched_arrays_is_refused_and_changes_nothing() -> None:
    clock = SampleClock()
    mgr = AlarmManager(AlarmThresholds(), clock)
    an = StreamingAnalyzer()
    an.push_block(np.full(240, 140.0))
    with pytest.raises(ValueError, match="one length"):
        mgr.update_block("b", [], an.snapshot(), np.full(240, 140.0), np.full(10, np.nan))
    assert mgr.active() == [] and list(mgr.history) == []
    assert mgr.update_block("b", [], an.snapshot(), np.empty(0), np.empty(0)) == []
