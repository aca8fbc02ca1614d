"""The county blind index of a hub patient at feed time (central_hub/feed/patients.py, mapping)."""

from __future__ import annotations

from pathlib import Path

from central_hub.datakey import DataCipher
from central_hub.feed import codes
from central_hub.feed.blindindex import BlindIndex
from central_hub.feed.mapping import Source, to_bundle
from central_hub.feed.patients import PatientIndexLookup
from central_hub.services.db import ServicesDb
from central_hub.services.dispatcher import Dispatcher
from central_hub.services.privacy import Privacy
from tests.central_hub.feed import records
from tests.central_hub.services.conftest import synthetic_id

KEY = BlindIndex(bytes(range(32)))
KIOSK_RECORD = {"record_id": "R0123456789abcdef", "patient_id": "P0123456789abcdef", "lmp": "2026-09-01",
                "edd": "2027-06-08", "gestational_age_days": 93, "bmi": 21.5, "screen_positive": False,
                "positive_items": []}


def _patient(bundle: dict) -> dict:
    (entry,) = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    return entry  # type: ignore[no-any-return]


def test_kiosk_pregnancy_patient_carries_the_index_when_the_patient_index_has_it() -> None:
    src = Source("site-a", "kiosk-001", 7, records.T0_MS, KEY, lambda d, e: None,
                 {"P0123456789abcdef": "ab" * 32}.get)
    entry = _patient(to_bundle("pregnancy-record/1", KIOSK_RECORD, src))  # type: ignore[arg-type]
    ids = {i["system"]: i["value"] for i in entry["resource"]["identifier"]}
    assert ids[codes.ID_BLIND_INDEX_SYSTEM] == "ab" * 32
    assert entry["request"]["method"] == "PUT"  # a Patient sent before without it gets it
    plain = Source("site-a", "kiosk-001", 7, records.T0_MS, KEY, lambda d, e: None)
    entry = _patient(to_bundle("pregnancy-record/1", KIOSK_RECORD, plain))  # type: ignore[arg-type]
    assert codes.ID_BLIND_INDEX_SYSTEM not in {i["system"] for i in entry["resource"]["identifier"]}
    assert entry["request"]["method"] == "POST"


def test_visit_and_delivery_patients_carry_it_too() -> None:
    src = Source("site-a", "station-1", 3, records.T0_MS, KEY, lambda d, e: None, {"P000001": "cd" * 32}.get)
    for schema, body in (("antenatal-visit/1", records.visit(1, 1)), ("delivery/1", records.delivery(1))):
        entry = _patient(to_bundle(schema, body, src))  # type: ignore[arg-type]
        assert {"system": codes.ID_BLIND_INDEX_SYSTEM, "value": "cd" * 32} in [
            {"system": i["system"], "value": i["value"]} for i in entry["resource"]["identifier"]]


def test_lookup_reads_the_services_index_and_never_creates_a_database(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    url = f"sqlite:///{state / 'hub.db'}"
    lookup = PatientIndexLookup(url, state)
    assert lookup("P0000000000000000") is None
    assert not (state / "services.db").exists()  # the feed never makes a services database
    db = ServicesDb(f"sqlite:///{state / 'services.db'}")
    d = Dispatcher(db, Privacy(DataCipher.generate(), KEY), None)
    number = synthetic_id("11010519900101002")
    ok, p = d.handle("kiosk-001", "patient.register", {"id_number": number, "name": "钱测试", "sex": "2",
                                                        "birth_date": "1990-01-01"}, "k-0001")
    assert ok, p
    assert lookup(p["patient_id"]) == KEY.of(number)
    assert lookup("P0000000000000000") is None
    db.close()
    lookup.close()


def test_a_patient_registered_before_the_county_key_gets_it_at_her_next_id_card(tmp_path: Path) -> None:
    db = ServicesDb(f"sqlite:///{tmp_path / 'services.db'}")
    cipher = DataCipher.generate()
    number = synthetic_id("11010519880202002")
    person = {"id_number": number, "name": "孙测试", "sex": "2", "birth_date": "1988-02-02"}
    ok, p = Dispatcher(db, Privacy(cipher), None).handle("kiosk-001", "patient.register", person, "k-0002")
    assert ok and Dispatcher(db, Privacy(cipher), None).patients.county_index(p["patient_id"]) is None
    later = Dispatcher(db, Privacy(cipher, KEY), None)  # the county key installed, the hub restarted
    ok, found = later.handle("kiosk-001", "patient.find", {"id_number": number}, None)
    assert ok and found["patient_id"] == p["patient_id"]
    assert later.patients.county_index(p["patient_id"]) == KEY.of(number)
    db.close()
