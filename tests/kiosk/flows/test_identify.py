"""Identification through the real ID-card driver on its simulator, against the fake hospital."""

from __future__ import annotations

import datetime as dt

import pytest

from kiosk.flows.identify import identify_by_card, identify_by_number, read_id_card
from kiosk.flows.messages import Notice
from kiosk.flows.queue import KIND_REGISTRATION
from kiosk.flows.session import Session
from kiosk.idcard import simulator as id_sim
from kiosk.idcard.driver import CardRead
from tests.kiosk.fake_hospital import FakeHospital
from tests.kiosk.flows.conftest import TODAY, IdReader

pytestmark = pytest.mark.integration  # drivers on their pty simulators


class ListQueue:
    def __init__(self) -> None:
        self.items: list[tuple[str, str, dict]] = []

    def add(self, kind: str, schema: str, body: dict, made_at_ms: int | None = None) -> int:
        self.items.append((kind, schema, body))
        return len(self.items)


def _read(idreader: IdReader, card: id_sim.SimCard) -> CardRead | Notice | None:
    idreader.sim.sim.place(card)
    return read_id_card(idreader.driver)


def test_known_patient_is_found_and_greeted_masked(idreader: IdReader, hospital: FakeHospital, session: Session) -> None:
    read = _read(idreader, id_sim.valid_card(1))
    assert isinstance(read, CardRead)
    hospital.add_patient(read.identity.id_number, read.identity.name, read.identity.birth_date)
    result = identify_by_card(hospital, session, read, TODAY)
    assert result.status == "found" and session.patient is result.patient
    greeting = result.notice.text("zh")
    assert read.identity.name not in greeting and read.identity.name[0] in greeting and "*" in greeting


def test_unknown_patient_is_offered_registration(idreader: IdReader, hospital: FakeHospital, session: Session) -> None:
    read = _read(idreader, id_sim.valid_card(2))
    assert isinstance(read, CardRead)
    result = identify_by_card(hospital, session, read, TODAY)
    assert result.status == "new" and session.identity == read.identity and session.patient is None


def test_expired_card_is_refused_with_its_date(idreader: IdReader, hospital: FakeHospital, session: Session) -> None:
    read = _read(idreader, id_sim.expired_card())
    assert isinstance(read, CardRead) and read.identity.valid_to is not None
    result = identify_by_card(hospital, session, read, TODAY)
    assert result.status == "refused" and result.notice.code == "id_expired"
    assert read.identity.valid_to.isoformat() in result.notice.text("zh")
    assert "expired" in result.notice.text("en")
    assert hospital.calls == [] and session.identity is None


def test_bad_check_digit_and_no_card(idreader: IdReader) -> None:
    assert _read(idreader, id_sim.bad_check_digit_card()) == Notice("id_invalid")
    idreader.sim.sim.lift()
    assert read_id_card(idreader.driver) is None


def test_reader_fault_is_a_retry_message(idreader: IdReader) -> None:
    idreader.sim.sim.place(id_sim.valid_card(3))
    idreader.sim.sim.fault = id_sim.Fault.BAD_CHECKSUM
    assert read_id_card(idreader.driver) == Notice("id_read_failed")


def test_hub_down_queues_the_identification_and_says_so(idreader: IdReader, hospital: FakeHospital,
                                                        session: Session) -> None:
    read = _read(idreader, id_sim.valid_card(4))
    assert isinstance(read, CardRead)
    hospital.unreachable = True
    queue = ListQueue()
    result = identify_by_card(hospital, session, read, TODAY, queue)
    assert result.status == "queued" and "booking" in result.notice.text("en")
    (kind, _, body), = queue.items
    assert kind == KIND_REGISTRATION and body["patient"]["id_number"] == read.identity.id_number
    assert body["idempotency_key"] == session.idempotency_key("register_patient")
    assert identify_by_card(hospital, Session(), read, TODAY).notice.code == "hub_down"  # no queue: said plainly


def test_number_entry(hospital: FakeHospital, session: Session) -> None:
    p = hospital.add_patient("110105199003070026", "测试甲", dt.date(1990, 3, 7))
    assert identify_by_number(hospital, session, "outpatient", p.outpatient_no).patient == p
    assert identify_by_number(hospital, session, "medical_card", p.medical_card_no or "").patient == p
    assert identify_by_number(hospital, session, "outpatient", "12a456").notice.code == "number_invalid"
    assert identify_by_number(hospital, session, "outpatient", "999999").notice.code == "number_not_found"
    hospital.unreachable = True
    assert identify_by_number(hospital, session, "outpatient", p.outpatient_no).notice.code == "hub_down"
