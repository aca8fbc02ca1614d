"""Hub records -> FHIR R4 transaction Bundles (pure: no I/O but the episode lookup handed in).

| record (schema)      | resources                                                                      |
|----------------------|--------------------------------------------------------------------------------|
| antenatal-booking/1  | Patient (blind-indexed ID number, birth date, area), EpisodeOfCare (upsert), Encounter (booking), |
|                      | Observations EDD 11778-8, GA 49051-6, LMP, gravidity, parity, height, weight, BMI, BP 85354-9, |
|                      | Flag (risk colour, when not green), Condition per screen-positive item          |
| pregnancy-record/1   | (the kiosk's self-registration, 自助建档) Patient (with the county blind index kept in |
|                      | the patient index), EpisodeOfCare (upsert), Observations EDD, GA, LMP, BMI;      |
|                      | Flag (screen positive) and a Condition per positive item                         |
| antenatal-visit/1    | Patient, EpisodeOfCare (created if new), Encounter, Observations GA, BP, weight, fundal height, FHR 55283-6 |
| delivery/1           | Patient, EpisodeOfCare, Encounter (delivery), Observations GA, live births      |
| episode/1 (station)  | Patient, Encounter of the CTG session (upsert: admitted -> in progress, discharged -> finished) |
| classification/1     | Patient, Observation FHR 55283-6 (baseline, variability, FIGO/NICHD class) on the session's Encounter |

An unidentified CTG episode (no patient admitted) is not the county's: `Skip`. Records that name the
patient only by the hub's patient id (kiosk, station) get the county blind index through
`Source.patient_index` (central_hub/feed/patients.py), when the patient index has it. Every
record's Patient is a conditional create plus, for what it knows (the index; the booking's birth
date and area), a conditional FHIRPath patch: whichever record of hers reaches the county first,
she ends up with all of it, and no record erases what another gave (resources.Subject.patient).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from central_hub.errors import HubError
from central_hub.feed import codes
from central_hub.feed.blindindex import BlindIndex
from central_hub.feed.bundle import Entry, reference, transaction
from central_hub.feed.resources import Subject, concept, instant, quantity

BOOKING, KIOSK_PREGNANCY = "antenatal-booking/1", "pregnancy-record/1"
VISIT, DELIVERY = "antenatal-visit/1", "delivery/1"
EPISODE, CLASSIFICATION = "episode/1", "classification/1"
FEED_SCHEMAS = frozenset({BOOKING, KIOSK_PREGNANCY, VISIT, DELIVERY, EPISODE, CLASSIFICATION})
LIVE_BIRTHS = ("11636-8", "[#] Births.live", None, None)
DELIVERY_TYPE = ("236973005", "Delivery procedure")


class MappingError(HubError):
    """A record the feed cannot map (a bug or a record of an unexpected shape)."""


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class Source:
    """Where a record came from, and what the mapping may look up."""

    site_id: str
    device_id: str
    msg_id: int
    at_ms: int  # when the hub received the record (the date of a record that carries none)
    blind_index: BlindIndex
    episode_patient: Callable[[str, int], str | None]  # (station device id, episode id) -> patient id
    # hub patient id -> the county blind index kept with her in the patient index (None: not known)
    patient_index: Callable[[str], str | None] = field(default=lambda _patient_id: None)


def to_bundle(schema_id: str, body: dict[str, Any], src: Source) -> dict[str, Any] | Skip:
    try:
        if schema_id == BOOKING:
            return transaction(_booking(body, src))
        if schema_id == KIOSK_PREGNANCY:
            return transaction(_kiosk_pregnancy(body, src))
        if schema_id == VISIT:
            return transaction(_visit(body, src))
        if schema_id == DELIVERY:
            return transaction(_delivery(body, src))
        if schema_id == EPISODE:
            return _ctg_episode(body, src)
        if schema_id == CLASSIFICATION:
            return _classification(body, src)
    except (KeyError, TypeError, ValueError) as exc:
        raise MappingError(f"{schema_id} from {src.device_id} #{src.msg_id}: {exc.__class__.__name__} {exc}") from None
    raise MappingError(f"schema {schema_id!r} is not fed to the county")


def _booking(b: dict[str, Any], src: Source) -> list[Entry]:
    who = Subject(src.site_id, b["patient_id"], b["record_id"])
    day = b["registered_date"]
    patient = who.patient(src.blind_index.of(b["id_number"]), b["birth_date"], b["area_code"])
    episode = who.episode(start=b["lmp"], upsert=True)
    booking = who.encounter("visit", f"{b['record_id']}-booking", day,
                            type_=concept(codes.SNOMED, *codes.ANTENATAL_CARE, text="建册 第1次产前检查"))
    oid = b["record_id"]
    obs = [who.observation(oid, codes.EDD, day, booking, valueDateTime=b["edd"]),
           who.observation(oid, codes.GA, day, booking, valueQuantity=quantity(codes.GA, _weeks(b["ga_days"]))),
           who.observation(oid, codes.LMP, day, booking, valueDateTime=b["lmp"]),
           who.observation(oid, codes.GRAVIDITY, day, booking, valueInteger=b["gravidity"]),
           who.observation(oid, codes.PARITY, day, booking, valueInteger=b["parity"]),
           who.observation(oid, codes.HEIGHT, day, booking, "vital-signs",
                           valueQuantity=quantity(codes.HEIGHT, b["height_cm"])),
           who.observation(oid, codes.WEIGHT, day, booking, "vital-signs",
                           valueQuantity=quantity(codes.WEIGHT, b["pre_pregnancy_weight_kg"])),
           who.observation(oid, codes.BMI, day, booking, "vital-signs", valueQuantity=quantity(
               codes.BMI, round(b["pre_pregnancy_weight_kg"] / (b["height_cm"] / 100) ** 2, 1)))]
    if "systolic_mmhg" in b and "diastolic_mmhg" in b:
        obs.append(who.blood_pressure(oid, b["systolic_mmhg"], b["diastolic_mmhg"], day, booking))
    flag = None if b["risk_colour"] == "green" else concept(
        codes.RISK_COLOUR_SYSTEM, b["risk_colour"], codes.RISK_COLOURS[b["risk_colour"]])
    return [*patient, episode, booking, *obs, *_screen_positive(who, b, day, flag, booking)]


def _kiosk_pregnancy(b: dict[str, Any], src: Source) -> list[Entry]:
    """The kiosk's self-registration record: what the patient entered, graded by the hub's screening."""
    who = Subject(src.site_id, b["patient_id"], b["record_id"])
    at, oid = instant(src.at_ms), b["record_id"]
    obs = [who.observation(oid, codes.EDD, at, None, valueDateTime=b["edd"]),
           who.observation(oid, codes.GA, at, None,
                           valueQuantity=quantity(codes.GA, _weeks(b["gestational_age_days"]))),
           who.observation(oid, codes.LMP, at, None, valueDateTime=b["lmp"]),
           who.observation(oid, codes.BMI, at, None, "vital-signs", valueQuantity=quantity(codes.BMI, b["bmi"]))]
    flag = concept(codes.RISK_SCREEN_SYSTEM, "positive", "妊娠风险筛查阳性") if b["screen_positive"] else None
    return [*who.patient(src.patient_index(b["patient_id"])), who.episode(start=b["lmp"], upsert=True), *obs,
            *_screen_positive(who, b, at[:10], flag, None)]


def _screen_positive(who: Subject, b: dict[str, Any], day: str, flag: dict[str, Any] | None,
                     encounter: Entry | None) -> list[Entry]:
    """A positive screen (a risk grade other than green) is a Flag; each positive item a Condition."""
    out: list[Entry] = []
    where = {} if encounter is None else {"encounter": reference("Encounter", encounter.system, encounter.value)}
    if flag is not None:
        system = codes.site_system(who.site_id, "risk-flag")
        out.append(Entry({"resourceType": "Flag", "identifier": [{"system": system, "value": b["record_id"]}],
                          "status": "active", "category": [concept(
                              "http://terminology.hl7.org/CodeSystem/flag-category", "clinical")],
                          "code": flag, "subject": who.patient_ref, "period": {"start": day}, **where},
                         system, b["record_id"]))
    system = codes.site_system(who.site_id, "risk-condition")
    for item in b.get("positive_items", []):
        cid = f"{b['record_id']}/{item}"
        out.append(Entry({
            "resourceType": "Condition", "identifier": [{"system": system, "value": cid}],
            "clinicalStatus": concept(codes.CONDITION_CLINICAL, "active"),
            "verificationStatus": concept(codes.CONDITION_VERIFICATION, "provisional"),
            "category": [concept(codes.CONDITION_CATEGORY, "problem-list-item")],
            "code": concept(codes.SCREEN_ITEM_SYSTEM, item, text=f"妊娠风险筛查阳性 {item}"),
            "subject": who.patient_ref, "recordedDate": day, **where}, system, cid))
    return out


def _visit(b: dict[str, Any], src: Source) -> list[Entry]:
    who = Subject(src.site_id, b["patient_id"], b["record_id"])
    day, vid = b["visit_date"], b["visit_id"]
    visit = who.encounter("visit", vid, day, type_=concept(codes.SNOMED, *codes.ANTENATAL_CARE, text="产前随访"))
    obs = [who.observation(vid, codes.GA, day, visit, valueQuantity=quantity(codes.GA, _weeks(b["ga_days"])))]
    if "systolic_mmhg" in b and "diastolic_mmhg" in b:
        obs.append(who.blood_pressure(vid, b["systolic_mmhg"], b["diastolic_mmhg"], day, visit))
    for key, code, category in (("weight_kg", codes.WEIGHT, "vital-signs"),
                                ("fundal_height_cm", codes.FUNDAL_HEIGHT, "exam"), ("fhr_bpm", codes.FHR, "exam")):
        if key in b:
            obs.append(who.observation(vid, code, day, visit, category, valueQuantity=quantity(code, b[key])))
    return [*who.patient(src.patient_index(b["patient_id"])), who.episode(), visit, *obs]


def _delivery(b: dict[str, Any], src: Source) -> list[Entry]:
    who = Subject(src.site_id, b["patient_id"], b["record_id"])
    day, did = b["delivery_date"], f"{b['record_id']}-delivery"
    encounter = who.encounter("delivery", did, day, type_=concept(codes.SNOMED, *DELIVERY_TYPE, text="分娩"))
    encounter.resource["class"] = {"system": codes.ACT_CODE, "code": "IMP", "display": "inpatient encounter"}
    return [*who.patient(src.patient_index(b["patient_id"])), who.episode(), encounter,
            who.observation(did, codes.GA, day, encounter, valueQuantity=quantity(codes.GA, _weeks(b["ga_days"]))),
            who.observation(did, LIVE_BIRTHS, day, encounter, valueInteger=b["live_births"])]


def _ctg_episode(b: dict[str, Any], src: Source) -> dict[str, Any] | Skip:
    patient_id = b.get("patient_id")
    if not patient_id:
        return Skip("unidentified CTG episode (no patient admitted)")
    who = Subject(src.site_id, patient_id, None)
    session = _ctg_session(who, src.device_id, b["episode_id"], instant(b["admitted_ms"]),
                           instant(b["discharged_ms"]) if "discharged_ms" in b else None)
    session = Entry(session.resource, session.system, session.value, upsert=True)
    return transaction([*who.patient(src.patient_index(patient_id)), session])


def _ctg_session(who: Subject, device_id: str, episode_id: int, start: str, end: str | None) -> Entry:
    return who.encounter("ctg-session", f"{device_id}-{episode_id}", start, end,
                         type_=concept(codes.SNOMED, *codes.CTG_MONITORING, text="胎心监护"), finished=end is not None)


def _classification(b: dict[str, Any], src: Source) -> dict[str, Any] | Skip:
    patient_id = src.episode_patient(src.device_id, b["episode_id"])
    if patient_id is None:
        return Skip(f"CTG episode {b['episode_id']} has no identified patient")
    who = Subject(src.site_id, patient_id, None)
    session = _ctg_session(who, src.device_id, b["episode_id"], instant(b["window_start_ms"]), None)
    components: list[dict[str, Any]] = [
        {"code": concept(codes.CTG_CLASS_SYSTEM, "figo", "FIGO 2015 classification"),
         "valueCodeableConcept": concept(codes.CTG_CLASS_SYSTEM, f"figo-{b['figo']}", b["figo"])},
        {"code": concept(codes.CTG_CLASS_SYSTEM, "nichd", "NICHD three-tier category"),
         "valueCodeableConcept": concept(codes.CTG_CLASS_SYSTEM, f"nichd-{b['nichd']}", b["nichd"])}]
    if b.get("variability_bpm") is not None:
        components.append({"code": concept(codes.CTG_CLASS_SYSTEM, *codes.FHR_VARIABILITY[:2]),
                           "valueQuantity": quantity(codes.FHR_VARIABILITY, b["variability_bpm"])})
    value: dict[str, Any] = ({"valueQuantity": quantity(codes.FHR, b["baseline_bpm"])}
                             if b.get("baseline_bpm") is not None
                             else {"dataAbsentReason": concept(
                                 "http://terminology.hl7.org/CodeSystem/data-absent-reason", "not-performed")})
    obs = who.observation(f"{src.device_id}-{b['episode_id']}-{b['at_ms']}", codes.FHR, instant(b["at_ms"]), session,
                          component=components, note=[{"text": r} for r in b.get("reasons", [])] or None, **value)
    obs.resource.pop("effectiveDateTime")
    obs.resource["effectivePeriod"] = {"start": instant(b["window_start_ms"]), "end": instant(b["window_end_ms"])}
    if obs.resource["note"] is None:
        del obs.resource["note"]
    return transaction([*who.patient(src.patient_index(patient_id)), session, obs])


def _weeks(days: int) -> float:
    return round(days / 7, 1)
