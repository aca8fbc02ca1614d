"""The county blind index of a hub patient at feed time (central_hub/feed/patients.py, mapping)."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from pathlib import Path

from central_hub.datakey import DataCipher
from central_hub.feed import codes
from central_hub.feed.blindindex import BlindIndex
from central_hub.feed.bundle import merge_bundles
from central_hub.feed.mapping import Source, to_bundle
from central_hub.feed.patients import PatientIndexLookup
from central_hub.feed.validate import validate_bundle
from central_hub.services.db import ServicesDb
from central_hub.services.dispatcher import Dispatcher
from central_hub.services.privacy import Privacy
from county_simulator.store import CountyStore
from county_simulator.transaction import process
from tests.central_hub.feed import records
from tests.central_hub.services.conftest import synthetic_id

KEY = BlindIndex(bytes(range(32)))
KIOSK_RECORD = {"record_id": "R0123456789abcdef", "patient_id": "P0123456789abcdef", "lmp": "2026-09-01",
                "edd": "2027-06-08", "gestational_age_days": 93, "bmi": 21.5, "screen_positive": False,
                "positive_items": []}


def _patient(bundle: dict) -> dict:
    (entry,) = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    return entry  # type: ignore[no-any-return]


def _patches(bundle: dict) -> list[dict]:
    return [e for e in bundle["entry"] if e["request"]["method"] == "PATCH"]


def test_kiosk_pregnancy_patient_carries_the_index_when_the_patient_index_has_it() -> None:
    src = Source("site-a", "kiosk-001", 7, records.T0_MS, KEY, lambda d, e: None,
                 {"P0123456789abcdef": "ab" * 32}.get)
    entry = _patient(to_bundle("pregnancy-record/1", KIOSK_RECORD, src))  # type: ignore[arg-type]
    ids = {i["system"]: i["value"] for i in entry["resource"]["identifier"]}
    assert ids[codes.ID_BLIND_INDEX_SYSTEM] == "ab" * 32
    assert entry["request"]["method"] == "POST"  # created with it; never replaced (other records' fields)
    (patch,) = _patches(to_bundle("pregnancy-record/1", KIOSK_RECORD, src))  # type: ignore[arg-type]
    assert patch["request"]["url"].startswith("Patient?identifier=")  # a Patient sent before gets it too
    assert "ab" * 32 in json.dumps(patch["resource"])
    plain = Source("site-a", "kiosk-001", 7, records.T0_MS, KEY, lambda d, e: None)
    bundle = to_bundle("pregnancy-record/1", KIOSK_RECORD, plain)
    entry = _patient(bundle)  # type: ignore[arg-type]
    assert codes.ID_BLIND_INDEX_SYSTEM not in {i["system"] for i in entry["resource"]["identifier"]}
    assert entry["request"]["method"] == "POST" and _patches(bundle) == []  # type: ignore[arg-type]


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


# --- the county ends up with her blind index whatever record of hers arrives first (issue 15) ---
# Each Bundle is processed by the county simulator's own transaction code; the index the county is
# searched by is computed here with the standard library's HMAC, not by the feed's BlindIndex.

COUNTY_KEY = bytes(range(7, 39))
NUMBER = synthetic_id("11010519920303002")
PID = "P000001"


def _county_index() -> str:
    return hmac.new(COUNTY_KEY, f"01|{NUMBER}".encode(), hashlib.sha256).hexdigest()


def _src(index: str | None, episode_patient: str | None = PID) -> Source:
    return Source("site-a", "station-1", 3, records.T0_MS, BlindIndex(COUNTY_KEY),
                  lambda _d, _e: episode_patient, {PID: index}.get if index else (lambda _p: None))


def _send(county: CountyStore, schema: str, body: dict, src: Source) -> None:
    bundle = to_bundle(schema, body, src)
    assert isinstance(bundle, dict)
    validate_bundle(bundle)
    process(county, bundle)


def _found_by_index(county: CountyStore) -> list[dict]:
    return county.search("Patient", codes.ID_BLIND_INDEX_SYSTEM, _county_index())


def _county(tmp_path: Path) -> CountyStore:
    return CountyStore(tmp_path / "county.db")


def test_episode_first_then_a_visit_with_the_index_known(tmp_path: Path) -> None:
    county = _county(tmp_path)
    _send(county, "episode/1", records.episode(4, PID), _src(None))  # admitted before she was indexed
    _send(county, "antenatal-visit/1", records.visit(1, 1), _src(_county_index()))
    (patient,) = _found_by_index(county)
    assert len(county.search("Patient")) == 1
    assert NUMBER not in json.dumps(patient)
    county.close()


def test_the_episode_and_classification_patients_carry_the_index(tmp_path: Path) -> None:
    for schema, body in (("episode/1", records.episode(4, PID)), ("classification/1", records.classification(4))):
        county = CountyStore(tmp_path / f"{schema.replace('/', '-')}.db")
        _send(county, schema, body, _src(_county_index()))
        assert len(_found_by_index(county)) == 1, schema
        county.close()


def test_classification_first_then_a_delivery_with_the_index(tmp_path: Path) -> None:
    county = _county(tmp_path)
    _send(county, "classification/1", records.classification(4), _src(None))
    _send(county, "delivery/1", records.delivery(1), _src(_county_index()))
    assert len(_found_by_index(county)) == 1 and len(county.search("Patient")) == 1
    county.close()


def test_a_later_record_does_not_wipe_what_the_his_booking_gave(tmp_path: Path) -> None:
    county = _county(tmp_path)
    booking = records.booking(random.Random(5), 1)
    _send(county, "antenatal-booking/1", booking, _src(None))
    index = BlindIndex(COUNTY_KEY).of(booking["id_number"])
    kiosk = {**KIOSK_RECORD, "patient_id": PID, "record_id": booking["record_id"]}
    _send(county, "pregnancy-record/1", kiosk, Source("site-a", "kiosk-001", 9, records.T0_MS,
                                                      BlindIndex(COUNTY_KEY), lambda _d, _e: None, {PID: index}.get))
    _send(county, "episode/1", records.episode(4, PID), _src(index))
    (patient,) = county.search("Patient")
    assert patient["birthDate"] == booking["birth_date"]
    assert patient["address"][0]["district"] == booking["area_code"]
    blind = [i["value"] for i in patient["identifier"] if i["system"] == codes.ID_BLIND_INDEX_SYSTEM]
    assert blind == [index]  # once, however many records carried it
    county.close()


def test_one_merged_bundle_keeps_the_index_of_a_later_copy(tmp_path: Path) -> None:
    county = _county(tmp_path)
    bodies = []
    for schema, body, src in (("episode/1", records.episode(4, PID), _src(None)),
                              ("antenatal-visit/1", records.visit(1, 1), _src(_county_index()))):
        bundle = to_bundle(schema, body, src)
        assert isinstance(bundle, dict)
        bodies.append(json.dumps(bundle).encode())
    merged = json.loads(merge_bundles(bodies))
    validate_bundle(merged)
    process(county, merged)
    assert len(_found_by_index(county)) == 1 and len(county.search("Patient")) == 1
    county.close()
