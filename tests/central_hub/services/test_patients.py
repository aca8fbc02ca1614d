"""Patient index on SQLite and PostgreSQL: register, find three ways, ID number only as a blind index."""

from __future__ import annotations

from central_hub.services.db import ServicesDb
from central_hub.services.dispatcher import Dispatcher
from tests.central_hub.services.conftest import call, refusal

ID = "11010519491231002X"  # GB 11643's own example (synthetic)
NEW = {"id_number": ID, "name": "王测试", "sex": "2", "birth_date": "1949-12-31", "phone": "13800000000"}


def test_register_then_find_by_id_number_and_outpatient_number(dispatcher: Dispatcher) -> None:
    p = call(dispatcher, "patient.register", NEW, "idem-0001")
    assert p["masked_id_number"] == "110105********002X" and p["name"] == "王测试" and not p["has_pregnancy_record"]
    assert call(dispatcher, "patient.find", {"id_number": ID.lower()})["patient_id"] == p["patient_id"]
    assert call(dispatcher, "patient.find", {"outpatient_no": p["outpatient_no"]})["patient_id"] == p["patient_id"]
    assert call(dispatcher, "patient.find", {"medical_card_no": "YB12345678"}) is None
    again = call(dispatcher, "patient.register", NEW, "idem-0002")  # another kiosk action, same person
    assert again["patient_id"] == p["patient_id"]


def test_registration_issues_a_medical_card_number_she_can_be_found_by(dispatcher: Dispatcher,
                                                                         services_db: ServicesDb) -> None:
    p = call(dispatcher, "patient.register", NEW, "idem-0101")
    card = p["medical_card_no"]
    assert isinstance(card, str) and card.isdigit() and 8 <= len(card) <= 20  # what the kiosk's keypad types
    assert call(dispatcher, "patient.find", {"medical_card_no": card})["patient_id"] == p["patient_id"]
    other = call(dispatcher, "patient.register", {**NEW, "id_number": "110105194912310038", "name": "李测试"},
                 "idem-0102")
    assert other["medical_card_no"] != card  # one card number per patient
    assert call(dispatcher, "patient.find", {"medical_card_no": other["medical_card_no"]})["patient_id"] == \
        other["patient_id"]
    assert call(dispatcher, "patient.register", NEW, "idem-0103")["medical_card_no"] == card  # kept, not reissued
    # a patient entered before card numbers were issued gets one when she registers again
    with services_db.write():
        services_db.execute("UPDATE svc_patients SET medical_card_no = NULL WHERE patient_id = ?", (p["patient_id"],))
    issued = call(dispatcher, "patient.register", NEW, "idem-0104")["medical_card_no"]
    assert issued and issued not in (card, other["medical_card_no"])
    assert call(dispatcher, "patient.find", {"medical_card_no": issued})["patient_id"] == p["patient_id"]


def test_bad_id_numbers_and_ambiguous_lookups_are_refused(dispatcher: Dispatcher) -> None:
    assert refusal(dispatcher, "patient.register", {**NEW, "id_number": ID[:-1] + "1"}, "idem-0003") == "bad-id-number"
    assert refusal(dispatcher, "patient.register", {**NEW, "sex": "x"}, "idem-0004") == "bad-request"
    assert refusal(dispatcher, "patient.find", {"id_number": ID, "outpatient_no": "MZ00000001"}) == "bad-request"
    assert refusal(dispatcher, "patient.find", {}) == "bad-request"


def test_id_number_name_and_phone_are_not_in_the_database_in_clear(dispatcher: Dispatcher,
                                                                   services_db: ServicesDb) -> None:
    call(dispatcher, "patient.register", NEW, "idem-0005")
    rows = services_db.query("SELECT * FROM svc_patients")
    text = repr(rows)
    for secret in (ID, ID[6:14], "王测试", "13800000000", "1949-12-31"):
        assert secret not in text
        assert secret.encode() not in b"".join(bytes(v) for r in rows for v in r if isinstance(v, bytes | memoryview))
