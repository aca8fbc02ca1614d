"""The simulator's conditional FHIRPath Patch (county_simulator/patch.py via transaction.process):
patches written out by hand here, as the FHIR R4 fhirpatch page spells them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from county_simulator.store import CountyStore
from county_simulator.transaction import Refusal, process
from tests.county_simulator.test_transaction import PAT, PAT_URL, create, tx

BLIND = "urn:county:blind"
INDEX = {"system": BLIND, "value": "ab12", "use": "secondary"}


def op(kind: str, path: str, **more: Any) -> dict[str, Any]:
    parts = [{"name": "type", "valueCode": kind}, {"name": "path", "valueString": path}]
    parts += [{"name": "name", "valueString": v} if k == "name" else {"name": "value", k: v} for k, v in more.items()]
    return {"name": "operation", "part": parts}


def patch(*ops: dict[str, Any], url: str = "Patient?identifier=urn:s:patient|P1") -> dict[str, Any]:
    return {"resource": {"resourceType": "Parameters", "parameter": list(ops)}, "request": {"method": "PATCH", "url": url}}


SET_INDEX = (op("delete", f"Patient.identifier.where(system='{BLIND}')"),
             op("add", "Patient", name="identifier", valueIdentifier=INDEX))


@pytest.fixture
def store(tmp_path: Path) -> CountyStore:
    return CountyStore(tmp_path / "county.db")


def test_a_patch_adds_the_identifier_keeps_the_rest_and_a_resend_changes_nothing(store: CountyStore) -> None:
    process(store, tx(create({**PAT, "birthDate": "1990-01-01"}, PAT_URL)))
    first = process(store, tx(patch(*SET_INDEX)))
    assert first["entry"][0]["response"]["location"].endswith("/_history/2")
    again = process(store, tx(create(PAT, PAT_URL), patch(*SET_INDEX)))
    assert again["entry"][1]["response"]["location"].endswith("/_history/2")  # no new version
    (patient,) = store.search("Patient", BLIND, "ab12")
    assert patient["birthDate"] == "1990-01-01"
    assert [i for i in patient["identifier"] if i["system"] == BLIND] == [INDEX]


def test_a_patch_applies_after_the_create_of_the_same_bundle_whatever_the_order(store: CountyStore) -> None:
    answer = process(store, tx(patch(*SET_INDEX), create(PAT, PAT_URL)))
    assert [e["response"]["status"] for e in answer["entry"]] == ["200 OK", "201 Created"]
    assert len(store.search("Patient", BLIND, "ab12")) == 1


@pytest.mark.parametrize(("bundle", "status", "why"), [
    (tx(patch(*SET_INDEX)), 404, "no Patient"),
    (tx(create(PAT, PAT_URL), patch(op("replace", "Patient.gender", valueCode="male"))), 422, "not supported"),
    (tx(create({**PAT, "birthDate": "1990-01-01"}, PAT_URL),
        patch(op("add", "Patient", name="birthDate", valueDate="1991-01-01"))), 422, "already has a value"),
    (tx(create({**PAT, "identifier": [*PAT["identifier"], INDEX, {**INDEX, "value": "cd"}]}, PAT_URL),
        patch(*SET_INDEX)), 422, "more than one"),
    (tx(create(PAT, PAT_URL), patch(op("add", "Patient", name="madeUp", valueString="x"))), 422, "no element"),
    (tx(create(PAT, PAT_URL), patch(op("add", "Patient", name="address", valueDate="1990-01-01"))), 422,
     r"\(patched\) Patient"),  # the result is not a valid Patient
    (tx(create(PAT, PAT_URL), {**patch(*SET_INDEX), "resource": PAT}), 422, "Parameters"),
])
def test_a_bad_patch_refuses_the_whole_transaction(store: CountyStore, bundle: dict[str, Any], status: int,
                                                    why: str) -> None:
    with pytest.raises(Refusal, match=why) as refused:
        process(store, bundle)
    assert refused.value.status == status
    assert store.search("Patient") == []  # all or nothing
