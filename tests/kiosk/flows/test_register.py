from __future__ import annotations

import datetime as dt
import random

from kiosk.flows.register import Answers, register
from kiosk.flows.session import Session
from kiosk.idcard.synthetic import synthetic_identity
from tests.kiosk.fake_hospital import FakeHospital
from tests.kiosk.flows.conftest import TODAY
from tests.kiosk.flows.test_identify import ListQueue

LMP = TODAY - dt.timedelta(days=70)


def identified(seed: int = 7) -> Session:
    session = Session()
    session.identity = synthetic_identity(random.Random(seed), birth=dt.date(1994, 5, 6))
    return session


def test_new_patient_gets_entry_and_record(hospital: FakeHospital) -> None:
    session = identified()
    result = register(hospital, session, Answers(LMP, 162, 55, 1, 0), TODAY)
    assert result.status == "created" and result.record is not None
    assert result.record.edd == LMP + dt.timedelta(days=280) and result.record.gestational_age_days == 70
    assert "10周+0天" in result.notice.text("zh") and result.preview is not None
    assert not result.record.screen_positive and result.preview.notice.code == "screen_negative"
    assert session.patient is not None and hospital.calls == ["register_patient", "create_pregnancy_record"]


def test_positive_screen_sends_her_to_a_doctor(hospital: FakeHospital) -> None:
    session = identified()
    result = register(hospital, session, Answers(LMP, 150, 70, 3, 1, {"2.2": True}), TODAY)
    assert result.record is not None and result.record.screen_positive
    assert set(result.record.positive_items) == {"1.3", "2.2"}
    assert result.preview is not None and result.preview.notice.code == "screen_positive"


def test_retry_after_a_lost_answer_creates_one_record(hospital: FakeHospital) -> None:
    session = identified()
    answers = Answers(LMP, 162, 55, 1, 0)
    first = register(hospital, session, answers, TODAY)
    again = register(hospital, session, answers, TODAY)
    assert first.record == again.record and len(hospital.records) == 1 and len(hospital.patients) == 1


def test_out_of_range_answers_name_the_field(hospital: FakeHospital) -> None:
    session = identified()
    cases = {"lmp_future": Answers(TODAY + dt.timedelta(days=1), 160, 55, 1, 0),
             "lmp_too_old": Answers(TODAY - dt.timedelta(weeks=45), 160, 55, 1, 0),
             "height": Answers(LMP, 300, 55, 1, 0), "weight": Answers(LMP, 160, 5, 1, 0),
             "gravidity": Answers(LMP, 160, 55, 0, 0), "parity": Answers(LMP, 160, 55, 2, 2)}
    for field, answers in cases.items():
        result = register(hospital, session, answers, TODAY)
        assert (result.status, result.notice.params["field"]) == ("invalid", field)
    assert hospital.calls == []


def test_hub_down_queues_registration_with_the_same_key(hospital: FakeHospital) -> None:
    session = identified()
    hospital.unreachable = True
    queue = ListQueue()
    result = register(hospital, session, Answers(LMP, 162, 55, 2, 1, {"7.8": True}), TODAY, queue)
    assert result.status == "queued" and result.notice.code == "registration_queued"
    (_, _, body), = queue.items
    assert body["pregnancy"]["gravidity"] == 2 and body["pregnancy"]["screening"]["7.8"] is True
    assert body["idempotency_key"] == session.idempotency_key("register_patient")
    assert not hospital.records
