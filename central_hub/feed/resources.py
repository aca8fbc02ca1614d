"""Builders of the FHIR R4 resources the feed sends (plain JSON dicts; validated in validate.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from central_hub.feed import codes
from central_hub.feed.bundle import Entry, identifier, reference

CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "CST")  # China Standard Time, no daylight saving

Code = tuple[str, str, str | None, str | None]


def instant(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, CHINA_TZ).isoformat(timespec="seconds")


def concept(system: str, code: str, display: str | None = None, text: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    out: dict[str, Any] = {"coding": [coding]}
    if text:
        out["text"] = text
    return out


def observation_code(code: Code) -> dict[str, Any]:
    """LOINC first, the WS 363 data element as a second coding when there is one."""
    loinc, display, ws363, _ = code
    out = concept(codes.LOINC, loinc, display)
    if ws363:
        out["coding"].append({"system": codes.WS363, "code": ws363})
    return out


def quantity(code: Code, value: float) -> dict[str, Any]:
    unit = code[3] or "1"
    return {"value": value, "unit": unit, "system": codes.UCUM, "code": unit}


class Subject:
    """Who the resources are about, and in which pregnancy: the references every entry shares."""

    def __init__(self, site_id: str, patient_id: str, record_id: str | None) -> None:
        self.site_id = site_id
        self.patient_system = codes.site_system(site_id, "patient-id")
        self.patient_id = patient_id
        self.record_system = codes.site_system(site_id, "pregnancy-record")
        self.record_id = record_id

    @property
    def patient_ref(self) -> dict[str, str]:
        return reference("Patient", self.patient_system, self.patient_id)

    @property
    def episode_ref(self) -> dict[str, str] | None:
        return None if self.record_id is None else reference("EpisodeOfCare", self.record_system, self.record_id)

    def patient(self, blind_index: str | None = None, birth_date: str | None = None,
                area_code: str | None = None) -> list[Entry]:
        """Her Patient as a conditional create with all this record knows, and, when it knows any of
        the elements she may have been created without, a patch that sets just those (never a
        replace: it would drop what other records gave the county)."""
        ids = [identifier(self.patient_system, self.patient_id, use="usual")]
        known: list[tuple[str, str, str, Any]] = []  # (element, how its copy is found, value[x], value)
        if blind_index:
            ids.append(identifier(codes.ID_BLIND_INDEX_SYSTEM, blind_index, use="secondary", type={
                "coding": [{"system": codes.WS363, "code": "DE02.01.030.00", "display": "身份证件号码"}],
                "text": "居民身份证号 blind index (HMAC-SHA256, county matching key)"}))
            known.append(("identifier", f".where(system='{codes.ID_BLIND_INDEX_SYSTEM}')", "valueIdentifier", ids[-1]))
        res: dict[str, Any] = {"resourceType": "Patient", "identifier": ids, "active": True, "gender": "female"}
        if birth_date:
            res["birthDate"] = birth_date
            known.append(("birthDate", "", "valueDate", birth_date))
        if area_code:
            res["address"] = [{"use": "home", "district": area_code, "country": "CN"}]
            known.append(("address", ".where(use='home')", "valueAddress", res["address"][0]))
        out = [Entry(res, self.patient_system, self.patient_id)]
        if known:
            out.append(Entry(fhirpath_patch("Patient", known), self.patient_system, self.patient_id,
                             patch_of="Patient"))
        return out

    def episode(self, start: str | None = None, upsert: bool = False) -> Entry:
        if self.record_id is None:
            raise ValueError("an EpisodeOfCare needs the pregnancy record id")
        res: dict[str, Any] = {
            "resourceType": "EpisodeOfCare", "identifier": [identifier(self.record_system, self.record_id)],
            "status": "active", "type": [concept(codes.SNOMED, *codes.ANTENATAL_CARE, text="孕产期保健")],
            "patient": self.patient_ref}
        if start:
            res["period"] = {"start": start}
        return Entry(res, self.record_system, self.record_id, upsert)

    def encounter(self, what: str, visit_id: str, start: str, end: str | None = None,
                  type_: dict[str, Any] | None = None, finished: bool = True) -> Entry:
        system = codes.site_system(self.site_id, what)
        res: dict[str, Any] = {
            "resourceType": "Encounter", "identifier": [identifier(system, visit_id)],
            "status": "finished" if finished else "in-progress",
            "class": {"system": codes.ACT_CODE, "code": "AMB", "display": "ambulatory"},
            "subject": self.patient_ref, "period": {"start": start, **({"end": end} if end else {})}}
        if type_:
            res["type"] = [type_]
        if self.episode_ref:
            res["episodeOfCare"] = [self.episode_ref]
        return Entry(res, system, visit_id)

    def observation(self, source_id: str, code: Code, effective: str, encounter: Entry | None,
                    category: str = "exam", **value: Any) -> Entry:
        """One Observation, identified by its source record and its LOINC code."""
        system = codes.site_system(self.site_id, "observation")
        obs_id = f"{source_id}/{code[0]}"
        res: dict[str, Any] = {
            "resourceType": "Observation", "identifier": [identifier(system, obs_id)], "status": "final",
            "category": [concept(codes.OBS_CATEGORY, category)], "code": observation_code(code),
            "subject": self.patient_ref, "effectiveDateTime": effective, **value}
        if encounter is not None:
            res["encounter"] = reference("Encounter", encounter.system, encounter.value)
        return Entry(res, system, obs_id)

    def blood_pressure(self, source_id: str, systolic: int, diastolic: int, effective: str,
                       encounter: Entry | None) -> Entry:
        components = [{"code": observation_code(c), "valueQuantity": quantity(c, v)}
                      for c, v in ((codes.SYSTOLIC, systolic), (codes.DIASTOLIC, diastolic))]
        return self.observation(source_id, codes.BP_PANEL, effective, encounter, "vital-signs", component=components)


def fhirpath_patch(rtype: str, elements: list[tuple[str, str, str, Any]]) -> dict[str, Any]:
    """A FHIRPath Patch that sets each element: delete its copy (no error when there is none), add it.
    Applying it twice gives the same resource, so a resend changes nothing."""
    ops: list[dict[str, Any]] = []
    for name, where, value_type, value in elements:
        ops.append({"name": "operation", "part": [{"name": "type", "valueCode": "delete"},
                                                  {"name": "path", "valueString": f"{rtype}.{name}{where}"}]})
        ops.append({"name": "operation", "part": [{"name": "type", "valueCode": "add"},
                                                  {"name": "path", "valueString": rtype},
                                                  {"name": "name", "valueString": name},
                                                  {"name": "value", value_type: value}]})
    return {"resourceType": "Parameters", "parameter": ops}
