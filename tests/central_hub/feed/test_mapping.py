"""Records -> transaction Bundles: every kind maps to valid R4, with the codes and identifiers the county needs."""

from __future__ import annotations

import json
import random
from typing import Any
from urllib.parse import unquote

import pytest
from fhirclient.models.fhirelementfactory import FHIRElementFactory

from central_hub.feed import codes
from central_hub.feed.blindindex import BlindIndex
from central_hub.feed.mapping import MappingError, Skip, Source, to_bundle
from central_hub.feed.validate import validate_bundle
from tests.central_hub.feed import records

INDEX = BlindIndex(bytes(range(32)))


def src(device: str = "kiosk-001", msg_id: int = 1, patients: dict[tuple[str, int], str] | None = None) -> Source:
    return Source("site-a", device, msg_id, records.T0_MS, INDEX, lambda d, e: (patients or {}).get((d, e)))


def bundle(schema: str, body: dict[str, Any], source: Source | None = None) -> dict[str, Any]:
    out = to_bundle(schema, body, source or src())
    assert isinstance(out, dict)
    return out


def of_type(b: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == rtype]


def loinc(obs: dict[str, Any]) -> str:
    return next(c["code"] for c in obs["code"]["coding"] if c["system"] == codes.LOINC)


def test_pregnancy_record_maps_to_every_resource_kind_and_validates() -> None:
    body = records.booking(random.Random(1), 1, colour="orange", items=("1.1", "2.2"))
    b = bundle("antenatal-booking/1", body)
    assert b["type"] == "transaction"
    assert validate_bundle(b) == len(b["entry"]) - 1  # the Patient's patch is not a resource of its own
    for e in b["entry"]:  # and by a second, true-R4 implementation
        FHIRElementFactory.instantiate(e["resource"]["resourceType"], e["resource"])
    kinds = {e["resource"]["resourceType"] for e in b["entry"]}
    assert kinds == {"Patient", "EpisodeOfCare", "Encounter", "Observation", "Flag", "Condition", "Parameters"}
    obs = {loinc(o): o for o in of_type(b, "Observation")}
    assert obs["11778-8"]["valueDateTime"] == body["edd"]
    assert obs["49051-6"]["valueQuantity"] == {"value": 10.0, "unit": "wk", "system": codes.UCUM, "code": "wk"}
    bp = obs["85354-9"]
    assert [(loinc(c), c["valueQuantity"]["value"]) for c in bp["component"]] == [("8480-6", 118), ("8462-4", 76)]
    ws363 = {c["code"] for o in obs.values() for c in o["code"]["coding"] if c["system"] == codes.WS363}
    assert {"DE05.10.098.00", "DE04.01.108.00", "DE02.10.002.00", "DE04.10.167.00"} <= ws363
    (flag,) = of_type(b, "Flag")
    assert flag["code"]["coding"][0] == {"system": codes.RISK_COLOUR_SYSTEM, "code": "orange",
                                         "display": codes.RISK_COLOURS["orange"]}
    assert sorted(c["code"]["coding"][0]["code"] for c in of_type(b, "Condition")) == ["1.1", "2.2"]


def test_the_id_number_leaves_only_as_its_blind_index() -> None:
    body = records.booking(random.Random(2), 2)
    text = json.dumps(bundle("antenatal-booking/1", body))
    assert body["id_number"] not in text and body["id_number"][:-1] not in text
    (patient,) = of_type(bundle("antenatal-booking/1", body), "Patient")
    blind = [i for i in patient["identifier"] if i["system"] == codes.ID_BLIND_INDEX_SYSTEM]
    assert blind[0]["value"] == INDEX.of(body["id_number"])
    assert INDEX.of(body["id_number"]) == INDEX.of(body["id_number"].lower())  # a trailing x matches X
    assert BlindIndex(bytes(32)).of(body["id_number"]) != blind[0]["value"]  # another key, another index


def test_screen_negative_has_no_flag_and_no_condition() -> None:
    b = bundle("antenatal-booking/1", records.booking(random.Random(3), 3, colour="green"))
    assert of_type(b, "Flag") == [] and of_type(b, "Condition") == []


def test_every_entry_is_conditional_and_the_bundle_is_stable() -> None:
    body = records.booking(random.Random(4), 4, colour="red", items=("5.1",))
    b = bundle("antenatal-booking/1", body)
    for e in b["entry"]:
        r, req = e["resource"], e["request"]
        if r["resourceType"] == "EpisodeOfCare":
            assert req["method"] == "PUT" and req["url"].startswith(f"{r['resourceType']}?identifier=")
        elif r["resourceType"] == "Parameters":  # her Patient is patched, never replaced
            assert req["method"] == "PATCH" and req["url"].startswith("Patient?identifier=")
        else:
            assert req["method"] == "POST" and req["ifNoneExist"].startswith("identifier=")
        system, _, value = unquote((req.get("ifNoneExist") or req["url"].partition("?")[2]).removeprefix(
            "identifier=")).partition("|")
        target = of_type(b, "Patient")[0] if r["resourceType"] == "Parameters" else r
        assert {"system": system, "value": value}.items() <= target["identifier"][0].items()
    assert json.dumps(b) == json.dumps(bundle("antenatal-booking/1", body))
    refs = {e["fullUrl"] for e in b["entry"]}
    for e in b["entry"]:
        for key in ("subject", "patient", "encounter"):
            if key in e["resource"]:
                assert e["resource"][key]["reference"] in refs


def test_visit_and_delivery_carry_ga_bp_fhr() -> None:
    v = bundle("antenatal-visit/1", records.visit(5, 2))
    validate_bundle(v)
    assert {loinc(o) for o in of_type(v, "Observation")} == {"49051-6", "85354-9", "29463-7", "11881-0", "55283-6"}
    (enc,) = of_type(v, "Encounter")
    assert enc["episodeOfCare"][0]["reference"] == of_type_url(v, "EpisodeOfCare")
    d = bundle("delivery/1", records.delivery(5))
    validate_bundle(d)
    assert {loinc(o) for o in of_type(d, "Observation")} == {"49051-6", "11636-8"}


def of_type_url(b: dict[str, Any], rtype: str) -> str:
    return next(e["fullUrl"] for e in b["entry"] if e["resource"]["resourceType"] == rtype)


def test_ctg_episode_and_classification() -> None:
    assert isinstance(to_bundle("episode/1", records.episode(7, None, "opened"), src("station-1")), Skip)
    e = bundle("episode/1", records.episode(7, "P000007", "discharged"), src("station-1"))
    validate_bundle(e)
    (session,) = of_type(e, "Encounter")
    assert session["status"] == "finished" and e["entry"][1]["request"]["method"] == "PUT"
    unknown = to_bundle("classification/1", records.classification(7), src("station-1"))
    assert isinstance(unknown, Skip)
    c = bundle("classification/1", records.classification(7), src("station-1", 2, {("station-1", 7): "P000007"}))
    validate_bundle(c)
    (obs,) = of_type(c, "Observation")
    assert loinc(obs) == "55283-6" and obs["valueQuantity"]["value"] == 145.5
    assert {x["valueCodeableConcept"]["coding"][0]["code"] for x in obs["component"]
            if "valueCodeableConcept" in x} == {"figo-suspicious", "nichd-II"}
    assert of_type_url(c, "Encounter") == of_type_url(e, "Encounter")  # the same CTG session


def test_a_record_of_the_wrong_shape_is_a_mapping_error() -> None:
    body = records.booking(random.Random(8), 8)
    del body["edd"]
    with pytest.raises(MappingError, match="antenatal-booking/1 from kiosk-001 #1: KeyError"):
        to_bundle("antenatal-booking/1", body, src())
    with pytest.raises(MappingError, match="not fed"):
        to_bundle("ctg/1", {}, src())


KIOSK_RECORD = {"record_id": "R0123456789abcdef", "patient_id": "P0123456789abcdef", "lmp": "2026-01-05",
                "edd": "2026-10-12", "gestational_age_days": 84, "bmi": 21.7, "screen_positive": True,
                "positive_items": ["1.1", "6.1"]}  # as kiosk/hospital/client.py keeps it in the outbox


def test_the_kiosk_self_registration_record_maps_and_validates() -> None:
    b = bundle("pregnancy-record/1", KIOSK_RECORD)
    validate_bundle(b)
    for e in b["entry"]:
        FHIRElementFactory.instantiate(e["resource"]["resourceType"], e["resource"])
    obs = {loinc(o): o for o in of_type(b, "Observation")}
    assert set(obs) == {"11778-8", "49051-6", "8665-2", "39156-5"}
    assert obs["49051-6"]["valueQuantity"]["value"] == 12.0 and obs["11778-8"]["valueDateTime"] == "2026-10-12"
    (flag,) = of_type(b, "Flag")
    assert flag["code"]["coding"][0]["system"] == codes.RISK_SCREEN_SYSTEM
    assert sorted(c["code"]["coding"][0]["code"] for c in of_type(b, "Condition")) == ["1.1", "6.1"]
    negative = bundle("pregnancy-record/1", {**KIOSK_RECORD, "screen_positive": False, "positive_items": []})
    assert of_type(negative, "Flag") == [] and of_type(negative, "Condition") == []
