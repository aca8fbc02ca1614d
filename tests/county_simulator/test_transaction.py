"""The simulator's FHIR semantics, held to the R4 http rules it claims (no HTTP here)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from county_simulator.store import CountyStore
from county_simulator.transaction import Refusal, process

PAT = {"resourceType": "Patient", "identifier": [{"system": "urn:s:patient", "value": "P1"}], "gender": "female"}
OBS = {"resourceType": "Observation", "identifier": [{"system": "urn:s:obs", "value": "O1"}], "status": "final",
       "code": {"coding": [{"system": "http://loinc.org", "code": "49051-6"}]},
       "subject": {"reference": "urn:uuid:11111111-1111-1111-1111-111111111111"},
       "valueQuantity": {"value": 10.0, "unit": "wk", "system": "http://unitsofmeasure.org", "code": "wk"}}


def tx(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def create(resource: dict[str, Any], full_url: str | None = None) -> dict[str, Any]:
    ident = resource["identifier"][0]
    e = {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"],
                                           "ifNoneExist": f"identifier={ident['system']}|{ident['value']}"}}
    return {**e, "fullUrl": full_url} if full_url else e


def update(resource: dict[str, Any], full_url: str) -> dict[str, Any]:
    ident = resource["identifier"][0]
    return {"fullUrl": full_url, "resource": resource,
            "request": {"method": "PUT", "url": f"{resource['resourceType']}?identifier={ident['system']}|{ident['value']}"}}


PAT_URL = "urn:uuid:11111111-1111-1111-1111-111111111111"


@pytest.fixture
def store(tmp_path: Path) -> CountyStore:
    return CountyStore(tmp_path / "county.db")


def test_conditional_create_creates_once_and_rewrites_references(store: CountyStore) -> None:
    answer = process(store, tx(create(PAT, PAT_URL), create(OBS)))
    assert [e["response"]["status"] for e in answer["entry"]] == ["201 Created", "201 Created"]
    again = process(store, tx(create(PAT, PAT_URL), create(OBS)))
    assert [e["response"]["status"] for e in again["entry"]] == ["200 OK", "200 OK"]
    (patient,) = store.search("Patient")
    (obs,) = store.search("Observation")
    assert obs["subject"]["reference"] == f"Patient/{patient['id']}"
    assert store.counts()["transactions"] == 2 and store.counts()["created"] == 2


def test_conditional_update_replaces_the_one_match(store: CountyStore) -> None:
    process(store, tx(create(PAT, PAT_URL)))
    changed = {**PAT, "birthDate": "1990-01-01"}
    answer = process(store, tx(update(changed, PAT_URL)))
    assert answer["entry"][0]["response"]["status"] == "200 OK"
    (patient,) = store.search("Patient")
    assert patient["birthDate"] == "1990-01-01" and patient["meta"]["versionId"] == "2"


def test_invalid_resource_refuses_the_whole_bundle(store: CountyStore) -> None:
    bad = copy.deepcopy(OBS)
    bad["effectiveDateTime"] = "not a date"
    with pytest.raises(Refusal) as info:
        process(store, tx(create(PAT, PAT_URL), create(bad)))
    assert info.value.status == 422 and "Bundle.entry[1] Observation" in info.value.diagnostics
    assert info.value.outcome()["issue"][0]["code"] == "invalid"
    assert store.search("Patient") == []  # all or nothing


@pytest.mark.parametrize(("bundle", "status"), [
    ({"resourceType": "Bundle", "type": "batch"}, 400),
    (tx({"resource": PAT, "request": {"method": "POST", "url": "Patient"}}), 422),  # unconditional create
    (tx(create({**PAT, "unknownElement": 1})), 422),
    (tx(create({"resourceType": "Claim", "identifier": [{"system": "s", "value": "v"}]})), 422),
    (tx(create({**OBS, "subject": {"reference": "urn:uuid:00000000-0000-0000-0000-000000000000"}})), 422),
])
def test_refusals(store: CountyStore, bundle: dict[str, Any], status: int) -> None:
    with pytest.raises(Refusal) as info:
        process(store, bundle)
    assert info.value.status == status


def test_two_matches_is_412(store: CountyStore) -> None:
    with store.transaction():  # two patients under one identifier (a merge gone wrong at the county)
        store.put("Patient", None, PAT)
        store.put("Patient", None, PAT)
    with pytest.raises(Refusal) as info:
        process(store, tx(create(PAT, PAT_URL)))
    assert info.value.status == 412
