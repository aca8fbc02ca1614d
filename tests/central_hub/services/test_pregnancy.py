"""Pregnancy records: GA, EDD (LMP + 280 d), BMI; the screening form item by item; never a colour."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from central_hub.services.dispatcher import Dispatcher
from central_hub.services.pregnancy import DE_EDD, DE_GRAVIDITY, DE_LMP
from central_hub.services.screening import load_rules
from tests.central_hub.services.conftest import Clock, call, refusal, synthetic_id

BORN_1996 = {"id_number": synthetic_id("11010519960101004"), "name": "李测试", "sex": "2", "birth_date": "1996-01-01"}
ANSWERED = sorted(load_rules().answered, key=lambda i: tuple(int(p) for p in i.split(".")))


def _form(patient_id: str, today: dt.date, **over: object) -> dict:
    form = {"patient_id": patient_id, "lmp": (today - dt.timedelta(days=70)).isoformat(), "height_cm": 160,
            "pre_pregnancy_weight_kg": 55, "gravidity": 1, "parity": 0, "screening": {i: False for i in ANSWERED}}
    form.update(over)
    return form


@pytest.fixture
def patient(dispatcher: Dispatcher) -> str:
    return str(call(dispatcher, "patient.register", BORN_1996, "idem-p-0001")["patient_id"])


def test_ga_edd_bmi_and_a_negative_screen(dispatcher: Dispatcher, patient: str, clock: Clock) -> None:
    today = clock.today()
    r = call(dispatcher, "pregnancy.create", _form(patient, today), "idem-r-0001")
    assert r["gestational_age_days"] == 70
    assert r["edd"] == (today - dt.timedelta(days=70) + dt.timedelta(days=280)).isoformat()
    assert r["bmi"] == 21.5  # 55 / 1.6**2 = 21.48
    assert r["screen_positive"] is False and r["positive_items"] == []
    stored = dispatcher.records.latest(patient)
    assert stored is not None and stored[DE_LMP] == r["lmp"] and stored[DE_EDD] == r["edd"]
    assert stored[DE_GRAVIDITY] == 1
    assert call(dispatcher, "patient.find", {"id_number": BORN_1996["id_number"]})["has_pregnancy_record"]


@pytest.mark.parametrize("item", ANSWERED)
def test_each_answered_item_alone_screens_positive(dispatcher: Dispatcher, patient: str, clock: Clock,
                                                   item: str) -> None:
    answers = {i: i == item for i in ANSWERED}
    r = call(dispatcher, "pregnancy.create", _form(patient, clock.today(), screening=answers), f"idem-i-{item}x")
    assert r["screen_positive"] and r["positive_items"] == [item]


@pytest.mark.parametrize(("over", "item"), [
    ({"height_cm": 145, "pre_pregnancy_weight_kg": 45}, "1.2"),
    ({"height_cm": 146, "pre_pregnancy_weight_kg": 45}, None),
    # the rule compares the BMI as shown (one decimal): 64.3 kg -> 25.1, 64.1 kg -> 25.0 (25.04)
    ({"pre_pregnancy_weight_kg": 64.3}, "1.3"), ({"pre_pregnancy_weight_kg": 64.1}, None),
    ({"pre_pregnancy_weight_kg": 47.2}, "1.3"), ({"pre_pregnancy_weight_kg": 47.3}, None),  # 18.4 / 18.5 (18.48)
])
def test_computed_items_at_their_boundaries(dispatcher: Dispatcher, patient: str, clock: Clock,
                                            over: dict, item: str | None) -> None:
    r = call(dispatcher, "pregnancy.create", _form(patient, clock.today(), **over), f"idem-c-{len(str(over))}{item}")
    assert r["positive_items"] == ([item] if item else [])


@pytest.mark.parametrize(("birth", "positive"), [("1991-12-03", True), ("1991-12-04", False),
                                                  ("2008-12-04", True), ("2007-12-03", False)])
def test_age_item_35_or_over_or_18_or_under(dispatcher: Dispatcher, clock: Clock, birth: str, positive: bool) -> None:
    year = int(birth[:4])
    person = {**BORN_1996, "birth_date": birth,
              "id_number": synthetic_id(f"110105{birth.replace('-', '')}004")}
    pid = call(dispatcher, "patient.register", person, f"idem-a-{year}{birth[-2:]}")["patient_id"]
    r = call(dispatcher, "pregnancy.create", _form(pid, clock.today()), f"idem-b-{year}{birth[-2:]}")
    assert ("1.1" in r["positive_items"]) is positive


def test_computed_items_sent_by_the_kiosk_are_decided_at_the_hub(dispatcher: Dispatcher, patient: str,
                                                                   clock: Clock) -> None:
    answers = {**{i: False for i in ANSWERED}, "1.1": True, "1.2": True, "1.3": False}
    r = call(dispatcher, "pregnancy.create", _form(patient, clock.today(), screening=answers, height_cm=145,
                                                   pre_pregnancy_weight_kg=45), "idem-r-0003")
    assert r["positive_items"] == ["1.2"]


def test_no_colour_is_ever_assigned(dispatcher: Dispatcher, patient: str, clock: Clock) -> None:
    answers = {i: True for i in ANSWERED}
    r = call(dispatcher, "pregnancy.create", _form(patient, clock.today(), screening=answers, height_cm=140),
             "idem-r-0002")
    text = json.dumps([r, dispatcher.records.latest(patient)], ensure_ascii=False).lower()
    for colour in ("green", "yellow", "orange", "red", "purple", "绿", "黄", "橙", "红", "紫", "colour", "color"):
        assert colour not in text


def test_bad_forms_are_refused(dispatcher: Dispatcher, patient: str, clock: Clock) -> None:
    today = clock.today()
    assert refusal(dispatcher, "pregnancy.create", _form(patient, today, lmp=(today + dt.timedelta(days=1)).isoformat()),
                   "idem-e-0001") == "bad-lmp"
    assert refusal(dispatcher, "pregnancy.create", _form(patient, today, parity=1), "idem-e-0002") == "bad-request"
    assert refusal(dispatcher, "pregnancy.create", _form(patient, today, screening={"9.9": True}),
                   "idem-e-0003") == "bad-request"
    assert refusal(dispatcher, "pregnancy.create", _form("P0000", today), "idem-e-0004") == "unknown-patient"

