"""Alarm kinds, priorities (IEC 60601-1-8), thresholds per ward and per bed, alarm records."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import IntEnum

from ..analysis import rules as R


class Priority(IntEnum):
    """IEC 60601-1-8: low = awareness, medium = prompt response, high = immediate response."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3


BRADYCARDIA = "bradycardia"
TACHYCARDIA = "tachycardia"
PROLONGED_DECELERATION = "prolonged_deceleration"
PATHOLOGICAL = "pathological_classification"
SIGNAL_LOSS = "signal_loss"
DISCONNECTED = "monitor_disconnected"
MATERNAL_COINCIDENCE = "maternal_fetal_coincidence"
REDUCED_VARIABILITY = "reduced_variability"
FHR_HIGH_LIMIT = "fhr_high_limit"  # monitor-style fast limit alarms on the raw FHR
FHR_LOW_LIMIT = "fhr_low_limit"
ALARM_KINDS = (BRADYCARDIA, TACHYCARDIA, PROLONGED_DECELERATION, PATHOLOGICAL, SIGNAL_LOSS, DISCONNECTED,
               MATERNAL_COINCIDENCE, REDUCED_VARIABILITY, FHR_HIGH_LIMIT, FHR_LOW_LIMIT)

DEFAULT_PRIORITIES = {
    BRADYCARDIA: Priority.MEDIUM,
    TACHYCARDIA: Priority.MEDIUM,
    PROLONGED_DECELERATION: Priority.HIGH,
    PATHOLOGICAL: Priority.HIGH,
    SIGNAL_LOSS: Priority.LOW,
    DISCONNECTED: Priority.MEDIUM,
    MATERNAL_COINCIDENCE: Priority.MEDIUM,
    REDUCED_VARIABILITY: Priority.MEDIUM,
    FHR_HIGH_LIMIT: Priority.MEDIUM,
    FHR_LOW_LIMIT: Priority.MEDIUM,
}

CHANGE_RAISED = "raised"
CHANGE_ESCALATED = "escalated"
CHANGE_ACKNOWLEDGED = "acknowledged"
CHANGE_CLEARED = "cleared"


@dataclass(frozen=True)
class AlarmThresholds:
    """Rule thresholds; defaults from FIGO 2015 / NICHD 2008, station choices marked."""

    bradycardia_bpm: float = R.NORMAL_BASELINE_MIN_BPM  # FIGO/NICHD: baseline < 110 bpm
    bradycardia_s: float = R.TACHY_BRADY_DURATION_S  # for 10 min (decelerations/accelerations excluded)
    tachycardia_bpm: float = R.NORMAL_BASELINE_MAX_BPM  # baseline > 160 bpm
    tachycardia_s: float = R.TACHY_BRADY_DURATION_S
    # station: a brady/tachycardia (or FHR-limit) alarm clears once its episode has ended and its
    # last epoch (sample) beyond the limit is this old (a lapse in a persistent episode neither
    # clears it nor raises it again)
    rate_clear_after_s: float = 120.0
    fhr_high_limit_bpm: float = 180.0  # station: fast limit alarm, raw FHR above this...
    fhr_low_limit_bpm: float = 80.0  # ...or below this (FIGO: < 80 bpm is serious)...
    fhr_limit_delay_s: float = 120.0  # ...for this long
    prolonged_decel_drop_bpm: float = R.DECEL_MIN_FALL_BPM  # 15 bpm below the live baseline
    prolonged_decel_s: float = R.FIGO_PROLONGED_DECEL_S  # FIGO > 3 min (NICHD ward: 120 s)
    # station: a prolonged deceleration does not return to the baseline; recurrent shorter ones
    # (below for half the time) must not add up to one, so its episode needs 80 % of the last minute
    prolonged_decel_hold_fraction: float = 0.8
    # station: signal gaps longer than this inside a deceleration do not count towards its 3 min
    # (a fall seen for 1 min, 2 min of signal loss, 10 s more, has not been seen for 3 min); at
    # 30 s the terminal bradycardia of CTU-UHB 1158 (pH 6.87, FHR 50-90 through many gaps) lost
    # its high-priority alarm, at 60 s no acidaemic record does
    prolonged_decel_max_gap_s: float = 60.0
    signal_loss_s: float = 60.0  # station
    # station: signal loss holds while this share of the last minute's samples is lost (a signal
    # that comes and goes half the time is poor, not lost: the quality figure shows it)
    signal_loss_hold_fraction: float = 0.8
    disconnect_s: float = 10.0  # station: no sample at all for this long
    coincidence_bpm: float = 5.0  # station: |FHR - MHR| below this...
    coincidence_s: float = 60.0  # ...for this long
    reduced_variability_bpm: float = R.MINIMAL_VARIABILITY_MAX_BPM  # FIGO: reduced < 5 bpm...
    reduced_variability_s: float = 40 * 60.0  # ...CN2015 NST: <= 5 bpm for 40-80 min is atypical
    lead: str = "figo"  # which classification raises the pathological alarm
    escalate_after_s: float = 120.0  # station: unacknowledged alarms go up one priority
    episode_window_s: float = 60.0  # hysteresis: the condition holds while >= half of this window
    hold_fraction: float = 0.5
    enabled: tuple[str, ...] = ALARM_KINDS
    priorities: dict[str, Priority] = field(default_factory=lambda: dict(DEFAULT_PRIORITIES))

    def __post_init__(self) -> None:
        for name in ("bradycardia_s", "tachycardia_s", "rate_clear_after_s", "fhr_limit_delay_s", "prolonged_decel_s", "signal_loss_s", "disconnect_s",
                     "coincidence_s", "escalate_after_s", "episode_window_s", "reduced_variability_s",
                     "prolonged_decel_max_gap_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"alarm threshold {name} must be positive")
        for name in ("hold_fraction", "prolonged_decel_hold_fraction", "signal_loss_hold_fraction"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"alarm threshold {name} must be in (0, 1]")
        if not self.bradycardia_bpm < self.tachycardia_bpm:
            raise ValueError("bradycardia_bpm must be below tachycardia_bpm")
        if not self.fhr_low_limit_bpm < self.fhr_high_limit_bpm:
            raise ValueError("fhr_low_limit_bpm must be below fhr_high_limit_bpm")
        unknown = set(self.enabled) - set(ALARM_KINDS)
        if unknown:
            raise ValueError(f"unknown alarm kinds: {sorted(unknown)}")


@dataclass(frozen=True)
class ThresholdTable:
    """Ward defaults plus per-bed overrides (field name -> value)."""

    ward: AlarmThresholds = field(default_factory=AlarmThresholds)
    beds: dict[str, dict[str, object]] = field(default_factory=dict)

    def for_bed(self, bed_id: str) -> AlarmThresholds:
        over = self.beds.get(bed_id)
        return replace(self.ward, **over) if over else self.ward  # type: ignore[arg-type]


@dataclass(frozen=True)
class Alarm:
    alarm_id: int
    bed_id: str
    kind: str
    priority: Priority
    raised_at: float  # clock time
    condition_since_s: float  # sample time at which the condition started
    message: str
    acked_by: str | None = None
    acked_at: float | None = None
    escalated_at: float | None = None
    cleared_at: float | None = None


@dataclass(frozen=True)
class AlarmChange:
    change: str  # raised / escalated / acknowledged / cleared
    alarm: Alarm
    at: float  # clock time
