from __future__ import annotations

from fetal_monitor_station.monitor.assembler import HOLD_S, RESYNC_S, SampleAssembler
from fetal_monitor_station.monitor.events import (
    EventMark,
    FetalMovement,
    FetalMovementState,
    HeartRate,
    HrRole,
    UterineActivity,
)

TWINS = (HrRole.FETAL, HrRole.FETAL)
MATERNAL2 = (HrRole.FETAL, HrRole.MATERNAL)
T0 = 1_800_000_000.0


def test_hr1_clocks_samples_and_holds_other_channels() -> None:
    a = SampleAssembler()
    assert a.push(HeartRate(2, 150), T0, TWINS) is None
    assert a.push(UterineActivity(30), T0, TWINS) is None
    s = a.push(HeartRate(1, 140), T0, TWINS)
    assert s is not None
    assert (s.t_s, s.fhr1_bpm, s.fhr2_bpm, s.mhr_bpm, s.toco) == (T0, 140.0, 150.0, None, 30.0)
    s2 = a.push(HeartRate(1, 141), T0 + 0.27, TWINS)
    assert s2 is not None and s2.t_s == T0 + 0.25 and s2.fhr2_bpm == 150.0  # held, on the grid
    s3 = a.push(HeartRate(1, 142), T0 + HOLD_S + 0.3, TWINS)
    assert s3 is not None and s3.fhr2_bpm is None and s3.toco is None  # stale values dropped


def test_maternal_role_routes_channel_two_to_mhr() -> None:
    a = SampleAssembler()
    a.push(HeartRate(2, 88), T0, MATERNAL2)
    s = a.push(HeartRate(1, 135), T0, MATERNAL2)
    assert s is not None and s.fhr2_bpm is None and s.mhr_bpm == 88.0
    a.push(HeartRate(2, 150), T0, (HrRole.FETAL, HrRole.INOP))
    s = a.push(HeartRate(1, 135), T0 + 0.25, (HrRole.FETAL, HrRole.INOP))
    assert s is not None and s.fhr2_bpm is None


def test_mark_and_movement_latch_into_one_sample() -> None:
    a = SampleAssembler()
    a.push(EventMark(), T0, TWINS)
    a.push(FetalMovement(FetalMovementState.DETECTED), T0, TWINS)
    s1 = a.push(HeartRate(1, None), T0, TWINS)
    s2 = a.push(HeartRate(1, None), T0 + 0.25, TWINS)
    assert s1 is not None and s1.mark and s1.movement and s1.fhr1_bpm is None
    assert s2 is not None and not s2.mark and not s2.movement


def test_gap_restarts_the_grid_and_is_counted() -> None:
    a = SampleAssembler()
    a.push(HeartRate(1, 140), T0, TWINS)
    s = a.push(HeartRate(1, 140), T0 + 10.1, TWINS)
    assert s is not None and s.t_s == T0 + 10.0 and a.gaps == 1


def test_monitor_ahead_of_host_clock_is_dropped_not_sent_back_in_time() -> None:
    a = SampleAssembler()
    times = [a.push(HeartRate(1, 140), T0, TWINS) for _ in range(int(RESYNC_S * 4) + 5)]
    kept = [s.t_s for s in times if s is not None]
    assert kept == sorted(set(kept)) and a.overruns == 4
