"""What a monitor decoder produces: typed, frozen events with units in their names.

Decoders of every monitor family (GE Corometrics 115, Philips Series 50, ...) emit these, so
the sample assembler, the reader and the station never depend on one family's framing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class HrRole(Enum):
    """What a heart-rate channel carries, as the monitor's HR mode says."""

    FETAL = "fetal"
    MATERNAL = "maternal"
    INOP = "inop"


class FetalMovementState(Enum):
    NONE = "none"
    DETECTED = "detected"
    FEATURE_ABSENT = "feature_absent"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class HeartRate:
    """One heart-rate value of channel 1 or 2; None = penlift / no signal."""

    channel: int
    hr_bpm: int | None


@dataclass(frozen=True, slots=True)
class UterineActivity:
    """One uterine-activity value (toco relative units or IUP mmHg); None = penlift."""

    toco: int | None


@dataclass(frozen=True, slots=True)
class Modes:
    """The monitor's heart-rate and uterine-activity mode codes (raw characters)."""

    hr_mode: str
    ua_mode: str


@dataclass(frozen=True, slots=True)
class EventMark:
    """The Mark key was pressed on the monitor."""


@dataclass(frozen=True, slots=True)
class FetalMovement:
    state: FetalMovementState


@dataclass(frozen=True, slots=True)
class RecorderStatus:
    paper_out: bool


@dataclass(frozen=True, slots=True)
class Annotation:
    """A message the station does not interpret (vital-signs annotations): kept raw."""

    code: int
    data: bytes


MonitorEvent = HeartRate | UterineActivity | Modes | EventMark | FetalMovement | RecorderStatus | Annotation
