"""What a discharge tells the county platform: `delivery/1` or `antenatal-visit/1` (pure, no I/O).

A labour episode discharged as *delivered* becomes a `delivery/1` record (delivery date,
gestational age at delivery, live births, delivered in a facility); an outpatient NST episode
(*antenatal* monitoring) becomes an `antenatal-visit/1` record of that day (GA, the analysis'
FHR baseline, blood pressure and weight when the nurse entered them). Both need the pregnancy
record number (建档号) the county files them under. Any other outcome sends nothing.

The form comes typed from the screen: every field is checked here and a bad one is an
`EpisodeError` naming it, before anything is discharged, so a mistyped form loses nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from fetal_monitor_station.episodes import Episode
from fetal_monitor_station.errors import EpisodeError
from mch_link import schemas
from mch_link.errors import SchemaError

DELIVERED, ANTENATAL, OTHER = "delivered", "antenatal", "other"
OUTCOMES = (DELIVERED, ANTENATAL, OTHER)
DELIVERY_SCHEMA = "delivery/1"
VISIT_SCHEMA = "antenatal-visit/1"
RECORD_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LIVE_BIRTHS_MAX = 8
SYSTOLIC_RANGE, DIASTOLIC_RANGE, WEIGHT_RANGE = (40, 300), (20, 200), (25.0, 250.0)
FHR_RANGE = (50, 240)


@dataclass(frozen=True)
class DischargeForm:
    """The discharge form as typed (strings, as the screen holds them)."""

    outcome: str = OTHER
    record_id: str = ""  # pregnancy record number (建档号)
    delivery_date: str = ""  # YYYY-MM-DD; empty = the day of discharge
    live_births: str = "1"
    in_facility: bool = True
    systolic_mmhg: str = ""
    diastolic_mmhg: str = ""
    weight_kg: str = ""


def _int(text: str, what: str, lo: int, hi: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise EpisodeError(f"{what}: want a whole number, got {text.strip()!r}") from None
    if not lo <= value <= hi:
        raise EpisodeError(f"{what}: want {lo}..{hi}, got {value}")
    return value


def _date(text: str, what: str) -> dt.date:
    try:
        if not DATE_RE.match(text.strip()):
            raise ValueError
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise EpisodeError(f"{what}: want YYYY-MM-DD, got {text.strip()!r}") from None


def ga_days_on(ep: Episode, day: dt.date, tz: dt.tzinfo | None = None) -> int:
    """Gestational age in days on `day`, from the GA entered at admission."""
    admitted = dt.datetime.fromtimestamp(ep.admitted_s, tz).date()
    return (ep.ga_weeks or 0) * 7 + (ep.ga_days or 0) + max(0, (day - admitted).days)


def county_record(ep: Episode, form: DischargeForm, *, station_id: str, today: dt.date,
                  baseline_bpm: float | None, tz: dt.tzinfo | None = None) -> tuple[str, dict[str, Any]] | None:
    """(schema, body) of the record this discharge produces, or None for an outcome the county does not get."""
    if form.outcome not in OUTCOMES:
        raise EpisodeError(f"discharge outcome {form.outcome!r}: want one of {', '.join(OUTCOMES)}")
    if form.outcome == OTHER:
        return None
    if not ep.identified or ep.patient_id is None:
        raise EpisodeError(f"bed {ep.bed_id}: admit the patient (hospital number) before a {form.outcome} discharge")
    record_id = form.record_id.strip()
    if not RECORD_ID_RE.match(record_id):
        raise EpisodeError("pregnancy record number: 1..64 letters, digits, '-' or '_'")
    body: dict[str, Any]
    if form.outcome == DELIVERED:
        day = _date(form.delivery_date, "delivery date") if form.delivery_date.strip() else today
        if day > today:
            raise EpisodeError(f"delivery date {day.isoformat()} is in the future")
        body = {"record_id": record_id, "patient_id": ep.patient_id, "delivery_date": day.isoformat(),
                "ga_days": ga_days_on(ep, day, tz), "live_births": _int(form.live_births, "live births", 0,
                                                                         LIVE_BIRTHS_MAX),
                "in_facility": bool(form.in_facility)}
        schema = DELIVERY_SCHEMA
    else:
        day = dt.datetime.fromtimestamp(ep.admitted_s, tz).date()
        body = {"visit_id": f"{station_id}-ep{ep.episode_id}", "record_id": record_id, "patient_id": ep.patient_id,
                "visit_date": day.isoformat(), "ga_days": ga_days_on(ep, day, tz)}
        sys_t, dia_t = form.systolic_mmhg.strip(), form.diastolic_mmhg.strip()
        if bool(sys_t) != bool(dia_t):
            raise EpisodeError("blood pressure: enter both systolic and diastolic, or neither")
        if sys_t:
            body["systolic_mmhg"] = _int(sys_t, "systolic pressure", *SYSTOLIC_RANGE)
            body["diastolic_mmhg"] = _int(dia_t, "diastolic pressure", *DIASTOLIC_RANGE)
            if body["diastolic_mmhg"] >= body["systolic_mmhg"]:
                raise EpisodeError("blood pressure: diastolic must be below systolic")
        if form.weight_kg.strip():
            try:
                weight = round(float(form.weight_kg.strip()), 1)
            except ValueError:
                raise EpisodeError(f"weight: want kg, got {form.weight_kg.strip()!r}") from None
            if not WEIGHT_RANGE[0] <= weight <= WEIGHT_RANGE[1]:
                raise EpisodeError(f"weight: want {WEIGHT_RANGE[0]:g}..{WEIGHT_RANGE[1]:g} kg, got {weight:g}")
            body["weight_kg"] = weight
        if baseline_bpm is not None and FHR_RANGE[0] <= round(baseline_bpm) <= FHR_RANGE[1]:
            body["fhr_bpm"] = int(round(baseline_bpm))
        schema = VISIT_SCHEMA
    try:
        schemas.validate(schema, body)
    except SchemaError as exc:  # a rule above missed something: still a clear refusal, nothing discharged
        raise EpisodeError(f"discharge record refused: {exc}") from None
    return schema, body
