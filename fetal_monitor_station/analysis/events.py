"""What the streaming analysis reports: events (with their time span and data) and snapshots."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Event kinds
KIND_ACCELERATION = "acceleration"
KIND_DECELERATION = "deceleration"
KIND_CONTRACTION = "contraction"
KIND_CLASSIFICATION = "classification"
KIND_MINUTE = "minute"  # per-minute baseline / variability summary

# Deceleration types
DEC_EARLY = "early"
DEC_LATE = "late"
DEC_VARIABLE = "variable"
DEC_PROLONGED = "prolonged"
DEC_TYPES = (DEC_EARLY, DEC_LATE, DEC_VARIABLE, DEC_PROLONGED)

# Classifications
FIGO_NORMAL = "normal"
FIGO_SUSPICIOUS = "suspicious"
FIGO_PATHOLOGICAL = "pathological"
NICHD_I = "I"
NICHD_II = "II"
NICHD_III = "III"
INDETERMINATE = "indeterminate"  # too little signal to classify


@dataclass(frozen=True, slots=True)
class Episode:
    """An acceleration, deceleration or contraction found in the trace."""

    kind: str
    start_s: float
    end_s: float
    peak_s: float  # acme of an acceleration or contraction, nadir of a deceleration
    amplitude: float  # bpm from baseline (negative for decelerations), toco units for contractions
    baseline_bpm: float | None = None  # baseline the event was measured against
    type: str | None = None  # deceleration type (DEC_TYPES)
    contraction_peak_s: float | None = None  # acme of the contraction it was tied to
    lost_fraction: float = 0.0  # share of the span without signal
    onset_s: float | None = None  # deceleration onset on the smoothed FHR (typing), if refined
    context_lost_fraction: float = 0.0  # signal loss around it (+/- CONTEXT_S): high = truncated event

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v is not None}
        return out


@dataclass(frozen=True, slots=True)
class Classification:
    """The rule-based interpretation of one assessment window."""

    figo: str
    nichd: str
    nst: str | None  # antepartum NST reactivity (CN2015 table), None when intrapartum
    reasons: tuple[str, ...]
    window_start_s: float
    window_end_s: float
    baseline_bpm: float | None
    variability_bpm: float | None

    def leading(self, lead: str) -> str:
        return self.nichd if lead == "nichd" else self.figo


@dataclass(frozen=True, slots=True)
class AnalysisEvent:
    """One analysis output: what, over which span, from how much data."""

    kind: str
    t_s: float  # sample time at which it was reported
    start_s: float
    end_s: float
    n_valid: int  # valid FHR samples the output was computed on
    episode: Episode | None = None
    classification: Classification | None = None
    values: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SignalQuality:
    loss_percent_10min: float  # share of the last 10 min without fetal signal
    lost_for_s: float  # seconds since the last valid fetal sample
    coincidence_for_s: float  # seconds FHR has tracked MHR within tolerance
    halving_doubling_for_s: float  # seconds FHR has sat near half / double the baseline


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Current state of one bed, cheap to build at every sample (for the UI and the alarms)."""

    t_s: float
    fhr_bpm: float | None  # last fetal sample (primary channel)
    mhr_bpm: float | None
    toco: float | None
    live_baseline_bpm: float | None  # causal baseline over the trailing 10 min
    baseline_bpm: float | None  # settled baseline (lags by the look-ahead)
    variability_bpm: float | None  # median per-minute band of the last 10 settled minutes
    stv_ms: float | None
    classification: Classification | None
    contractions_per_10min: float | None
    tachysystole: bool
    quality: SignalQuality
    settled_until_s: float  # settled analysis covers [0, settled_until_s)
