"""The R4 gate: what is not valid FHIR never leaves, and the error names the element, not the value."""

from __future__ import annotations

import random

import pytest

from central_hub.feed.blindindex import BlindIndex
from central_hub.feed.mapping import Source, to_bundle
from central_hub.feed.validate import InvalidResource, validate_bundle, validate_resource
from tests.central_hub.feed import records

OBS = {"resourceType": "Observation", "status": "final", "identifier": [{"system": "urn:x", "value": "1"}],
       "code": {"coding": [{"system": "http://loinc.org", "code": "55283-6"}]}}


@pytest.mark.parametrize(("change", "message"), [
    ({"effectiveDateTime": "yesterday"}, "effectiveDateTime"),
    ({"valueQuantity": {"value": "fast"}}, "valueQuantity.value"),
    ({"heartRate": 140}, "heartRate: extra_forbidden"),
    ({"code": None}, "code"),
    ({"status": "done"}, "Observation.status: not in the required value set"),
])
def test_invalid_observations_are_refused(change: dict[str, object], message: str) -> None:
    bad = {k: v for k, v in {**OBS, **change}.items() if v is not None}
    with pytest.raises(InvalidResource, match=message) as info:
        validate_resource(bad)
    assert "yesterday" not in str(info.value) and "fast" not in str(info.value)


def test_a_valid_observation_passes() -> None:
    validate_resource(OBS)


def test_bundle_error_names_the_entry() -> None:
    src = Source("site-a", "kiosk-001", 1, records.T0_MS, BlindIndex(bytes(32)), lambda d, e: None)
    b = to_bundle("antenatal-booking/1", records.booking(random.Random(1), 1), src)
    assert isinstance(b, dict)
    b["entry"][4]["resource"]["effectiveDateTime"] = "2026-13-45"  # Patient, its patch, episode, encounter
    with pytest.raises(InvalidResource, match=r"Bundle.entry\[4\] Observation: effectiveDateTime"):
        validate_bundle(b)
    with pytest.raises(InvalidResource, match="not one the feed sends"):
        validate_resource({"resourceType": "Claim"})
