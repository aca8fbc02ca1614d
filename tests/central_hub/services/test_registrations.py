"""Queued `kiosk-registration/1` records become a patient and a pregnancy record (issue 12), once.

The records are committed to the record store the way the ingest commits them; the intake takes
them from there (the trigger's queue) into the services' tables, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cbor2
import pytest

from central_hub.datakey import DataCipher
from central_hub.feed import blindindex, outbox
from central_hub.services import registrations as reg
from central_hub.services.db import ServicesDb
from central_hub.services.dispatcher import Dispatcher
from central_hub.services.privacy import Privacy
from central_hub.store import Store, open_store
from central_hub.store.model import record_aad, record_digest
from tests.central_hub.services.conftest import START, Clock, call, refusal, synthetic_id

COUNTY_KEY = bytes(range(100, 132))
KIOSK = "kiosk-007"
ID_NUMBER = synthetic_id("11010519960307002")
PATIENT = {"id_number": ID_NUMBER, "name": "王测试", "sex": "2", "birth_date": "1996-03-07", "nation": "01"}
MADE = START - dt.timedelta(days=3)  # she queued it three days before the hub took it in


def form(**over: Any) -> dict[str, Any]:
    lmp = (MADE.date() - dt.timedelta(days=84)).isoformat()
    return {"lmp": lmp, "height_cm": 160.0, "pre_pregnancy_weight_kg": 55.0, "gravidity": 2, "parity": 1,
            "screening": {"2.2": True, "3.1": False}} | over


def queued(key: str, pregnancy: dict[str, Any] | None = None, patient: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"idempotency_key": key, "patient": patient or PATIENT}
    if pregnancy is not None:
        body["pregnancy"] = pregnancy
    return body


@dataclass
class Hub:
    store: Store
    db: ServicesDb
    cipher: DataCipher
    dispatcher: Dispatcher
    intake: reg.RegistrationIntake
    clock: Clock

    def commit(self, msg_id: int, body: dict[str, Any], made: dt.datetime = MADE, device: str = KIOSK) -> None:
        """One record committed as the ingest commits it (the kiosk's clock in made_at_ms)."""
        plain = cbor2.dumps(body)
        made_ms = int(made.timestamp() * 1000)
        key_id, nonce, sealed = self.cipher.seal(record_aad(device, msg_id), plain)
        with self.store.transaction([]) as txn:
            txn.add_records([(device, msg_id, reg.SCHEMA, made_ms, made_ms, int(self.clock() * 1000), key_id, nonce,
                              sealed, record_digest(made_ms, plain))])

    def fed(self) -> list[dict[str, Any]]:
        """The pregnancy-record/1 bodies the intake wrote for the feed."""
        rows = self.store.read("SELECT msg_id, key_id, nonce, body FROM records WHERE device_id = ? ORDER BY msg_id",
                               (reg.HUB_SERVICES_DEVICE,))
        return [cbor2.loads(self.cipher.open(r[1], bytes(r[2]), bytes(r[3]),
                                             record_aad(reg.HUB_SERVICES_DEVICE, int(r[0])))) for r in rows]

    def count(self, table: str) -> int:
        return int(self.db.query(f"SELECT count(*) FROM {table}")[0][0])

    def outcomes(self) -> list[tuple[int, str]]:
        return sorted((r.msg_id, r.status) for r in reg.registrations(self.db))


@pytest.fixture
def hub(hub_db_url: str, clock: Clock) -> Iterator[Hub]:
    store, db, cipher = open_store(hub_db_url), ServicesDb(hub_db_url), DataCipher.generate()
    d = Dispatcher(db, Privacy(cipher, blindindex.BlindIndex(COUNTY_KEY)), None, clock=clock, today=clock.today)
    reg.migrate(store)
    yield Hub(store, db, cipher, d, reg.RegistrationIntake(store, db, cipher, d.patients, d.records, clock), clock)
    db.close()
    store.close()


def test_a_queued_registration_becomes_one_patient_and_one_record_for_the_feed(hub: Hub) -> None:
    hub.commit(1, queued("a" * 32, form()))
    assert hub.intake.step() == 1
    assert hub.count("svc_patients") == 1 and hub.count("svc_pregnancy_records") == 1
    (done,) = reg.registrations(hub.db)
    assert done.status == "created" and done.detail.startswith("patient new; pregnancy record R")
    patient = call(hub.dispatcher, "patient.find", {"id_number": ID_NUMBER})
    assert patient["patient_id"] == done.patient_id and patient["has_pregnancy_record"]
    assert patient["name"] == "王测试" and patient["masked_id_number"] == ID_NUMBER[:6] + "********" + ID_NUMBER[-4:]
    (record,) = hub.fed()
    # as of the day she filled in the form, not the day the hub took it in
    assert record["gestational_age_days"] == 84 and record["record_id"] == done.record_id
    assert record["edd"] == (MADE.date() + dt.timedelta(days=280 - 84)).isoformat()
    assert record["screen_positive"] and record["positive_items"] == ["2.2"]
    assert record["patient_id"] == done.patient_id and ID_NUMBER not in str(record)
    # the feed's trigger queued it in the same statement
    assert [(r.device_id, r.schema_id) for r in outbox.head(hub.store, 10)] == [
        (reg.HUB_SERVICES_DEVICE, "pregnancy-record/1")]
    # the county's blind index, kept with the patient (computed here independently of the code)
    expected = hmac.new(COUNTY_KEY, f"01|{ID_NUMBER}".encode(), hashlib.sha256).hexdigest()
    assert hub.dispatcher.patients.county_index(done.patient_id or "") == expected
    assert hub.intake.step() == 0  # nothing pending any more


def test_the_same_registration_delivered_twice_makes_one_of_each(hub: Hub) -> None:
    hub.commit(1, queued("b" * 32))  # identification queued first (no form yet)
    hub.commit(2, queued("b" * 32, form()))  # then the registration, same idempotency key
    hub.commit(3, queued("b" * 32, form()))  # and once more (a resent outbox after a kiosk restore)
    hub.commit(3, queued("b" * 32, form()))  # the same message again: the store keeps it once
    assert hub.intake.step() == 3
    assert hub.count("svc_patients") == 1 and hub.count("svc_pregnancy_records") == 1
    assert hub.outcomes() == [(1, "created"), (2, "created"), (3, "matched")]
    assert len({r["record_id"] for r in hub.fed()}) == 1  # fed again when matched: a no-op at the county


def test_registered_online_after_the_hub_came_back_then_the_queue_arrives(hub: Hub) -> None:
    pid = call(hub.dispatcher, "patient.register", PATIENT, "online-1")["patient_id"]
    hub.clock.now = MADE.timestamp()  # she filled in the same form online, the same day
    online = call(hub.dispatcher, "pregnancy.create", {"patient_id": pid, **form()}, "online-2")
    hub.clock.now = START.timestamp()
    hub.commit(1, queued("c" * 32, form()))
    hub.intake.step()
    assert hub.count("svc_patients") == 1 and hub.count("svc_pregnancy_records") == 1
    (done,) = reg.registrations(hub.db)
    assert (done.status, done.patient_id, done.record_id) == ("matched", pid, online["record_id"])


def test_the_queue_first_then_online_gets_the_same_record(hub: Hub) -> None:
    hub.commit(1, queued("d" * 32, form()))
    hub.intake.step()
    (done,) = reg.registrations(hub.db)
    pid = call(hub.dispatcher, "patient.register", PATIENT, "online-3")["patient_id"]
    assert pid == done.patient_id
    again = call(hub.dispatcher, "pregnancy.create", {"patient_id": pid, **form()}, "online-4")
    assert again["record_id"] == done.record_id and hub.count("svc_pregnancy_records") == 1
    # other data for the same pregnancy: refused, the record as it was
    assert refusal(hub.dispatcher, "pregnancy.create", {"patient_id": pid, **form(height_cm=158.0)},
                   "online-5") == "record-exists"
    assert hub.count("svc_pregnancy_records") == 1


def test_a_conflict_is_kept_visible_and_nothing_is_merged(hub: Hub) -> None:
    hub.commit(1, queued("e" * 32, form()))
    other = form(lmp=(MADE.date() - dt.timedelta(days=70)).isoformat(), parity=0)
    hub.commit(2, queued("f" * 32, other, {**PATIENT, "name": "王测式"}))
    hub.intake.step()
    assert hub.count("svc_patients") == 1 and hub.count("svc_pregnancy_records") == 1
    assert hub.outcomes() == [(1, "created"), (2, "conflict")]
    (conflict,) = reg.registrations(hub.db, "conflict")
    assert conflict.detail == (f"patient conflict: differs from the index in name; pregnancy record"
                               f" {conflict.record_id} conflict: differs in lmp, parity")
    assert "王测式" not in conflict.detail and other["lmp"] not in conflict.detail  # names, never values
    patient = call(hub.dispatcher, "patient.find", {"id_number": ID_NUMBER})
    assert patient["name"] == "王测试"  # the index as it was
    (record,) = hub.fed()
    assert record["gestational_age_days"] == 84  # the first record as it was, and the only one fed


def test_a_later_pregnancy_is_a_new_record(hub: Hub) -> None:
    hub.commit(1, queued("1" * 32, form()))
    later = MADE + dt.timedelta(days=400)
    hub.clock.now = later.timestamp()  # received the day she made it
    hub.commit(2, queued("2" * 32, form(lmp=(later.date() - dt.timedelta(days=60)).isoformat(), gravidity=3,
                                        parity=2)), made=later)
    hub.intake.step()
    assert hub.outcomes() == [(1, "created"), (2, "created")]
    assert hub.count("svc_patients") == 1 and hub.count("svc_pregnancy_records") == 2


def test_a_kiosk_clock_ahead_of_the_hub_counts_from_the_hubs_receipt(hub: Hub) -> None:
    hub.commit(1, queued("0" * 32, form()), made=START + dt.timedelta(days=30))  # a kiosk clock a month ahead
    hub.intake.step()
    (record,) = hub.fed()
    assert record["gestational_age_days"] == 84 + 3  # as of the day the hub received it, not the kiosk's date


def test_bad_registrations_are_refused_with_the_reason(hub: Hub) -> None:
    bad_check = ID_NUMBER[:17] + ("0" if ID_NUMBER[17] != "0" else "1")
    hub.commit(1, queued("3" * 32, form(), {**PATIENT, "id_number": bad_check}))
    hub.commit(2, queued("4" * 32, form(lmp=(MADE.date() + dt.timedelta(days=2)).isoformat())))
    hub.commit(3, queued("5" * 32, form(parity=2)))
    with hub.store.transaction([]) as txn:  # a record whose body does not open under the data key
        txn.add_records([(KIOSK, 4, reg.SCHEMA, None, None, 0, 1, b"\0" * 12, b"\0" * 40, None)])
    assert hub.intake.step() == 4
    got = {r.msg_id: (r.status, r.detail) for r in reg.registrations(hub.db)}
    assert got[1] == ("refused", "bad-id-number: the ID number's check digit or birth date is wrong")
    assert got[2] == ("refused", "patient new; bad-lmp: the last menstrual period must be in the last 44 weeks")
    assert got[3][0] == "refused" and "parity must be less than gravidity" in got[3][1]
    assert got[4] == ("refused", "the queued record does not open: DataKeyError")
    assert hub.count("svc_pregnancy_records") == 0 and hub.fed() == []


def test_a_step_cut_short_is_done_again_once(hub: Hub) -> None:
    hub.commit(1, queued("6" * 32, form()))
    (kiosk_id, msg_id, made_ms, received, key_id, nonce, sealed) = hub.store.read(
        "SELECT device_id, msg_id, made_at_ms, received_at_ms, key_id, nonce, body FROM records")[0]
    body = hub.intake._open(kiosk_id, msg_id, key_id, nonce, sealed)
    hub.intake._take(kiosk_id, msg_id, body, made_ms)  # the services committed; the hub died before the store did
    assert hub.fed() == []
    assert hub.intake.step() == 1
    assert len(hub.fed()) == 1 and hub.count("svc_pregnancy_records") == 1 and hub.count("svc_registrations") == 1
    assert hub.intake.step() == 0


def test_records_stored_before_the_intake_existed_are_taken_in(hub_db_url: str, clock: Clock) -> None:
    store, cipher = open_store(hub_db_url), DataCipher.generate()
    with store.write():
        store.execute("DROP TRIGGER IF EXISTS svc_intake_enqueue" + ("" if hub_db_url.startswith("sqlite")
                                                                      else " ON records"))
        store.execute("DELETE FROM hub_meta WHERE k = ?", (reg.VERSION_KEY,))
    db = ServicesDb(hub_db_url)
    d = Dispatcher(db, Privacy(cipher), None, clock=clock, today=clock.today)
    h = Hub(store, db, cipher, d, reg.RegistrationIntake(store, db, cipher, d.patients, d.records, clock), clock)
    h.commit(1, queued("7" * 32, form()))  # no trigger: an older hub stored it
    reg.migrate(store)
    assert h.intake.step() == 1 and h.outcomes() == [(1, "created")]
    db.close()
    store.close()


def test_the_desk_lists_conflicts_without_personal_data(tmp_path: Any, clock: Clock) -> None:
    state = tmp_path / "state"
    state.mkdir()
    db_url = f"sqlite:///{state / 'hub.db'}"
    store, db, cipher = open_store(db_url), ServicesDb(f"sqlite:///{state / 'services.db'}"), DataCipher.generate()
    d = Dispatcher(db, Privacy(cipher), None, clock=clock, today=clock.today)
    reg.migrate(store)
    h = Hub(store, db, cipher, d, reg.RegistrationIntake(store, db, cipher, d.patients, d.records, clock), clock)
    h.commit(1, queued("8" * 32, form()))
    h.commit(2, queued("9" * 32, form(height_cm=150.0)))
    h.intake.step()
    db.close()
    store.close()
    run = [sys.executable, "-m", "central_hub.cli", "registrations", "--db", db_url, "--state-dir", str(state)]
    out = subprocess.run([*run, "--status", "conflict", "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    (item,) = json.loads(out.stdout)
    assert (item["device_id"], item["msg_id"], item["status"]) == (KIOSK, 2, "conflict")
    assert item["detail"].endswith("conflict: differs in height_cm")
    table = subprocess.run(run, capture_output=True, text=True, timeout=60)
    assert table.returncode == 0 and "created" in table.stdout and "conflict" in table.stdout
    for text in (out.stdout, table.stdout):
        assert ID_NUMBER not in text and PATIENT["name"] not in text
    missing = subprocess.run([*run[:-1], str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "no services database" in missing.stderr
