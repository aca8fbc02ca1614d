"""GA/EDD/BMI arithmetic and the screening rules, item by item (the kiosk never grades a colour)."""

from __future__ import annotations

import datetime as dt

import pytest

from kiosk.flows import pregnancy as preg
from kiosk.flows.messages import CATALOGUE
from kiosk.flows.screening import default_rules, evaluate, parse_rules

BASE = {"age_years": 28.0, "height_cm": 160.0, "bmi": 21.0}


def test_edd_is_lmp_plus_280_days_and_ga_counts_days() -> None:
    lmp = dt.date(2026, 6, 1)
    assert preg.edd(lmp) == dt.date(2027, 3, 8)
    assert preg.gestational_age_days(lmp, dt.date(2026, 8, 31)) == 91
    assert preg.format_ga(91) == "13周+0天" and preg.format_ga(95, "en") == "13w+4d"
    assert [preg.trimester(d) for d in (90, 91, 195, 196)] == [1, 2, 2, 3]


def test_bmi_and_age() -> None:
    assert preg.bmi(160, 64) == 25.0
    assert preg.bmi(158, 45.5) == 18.2
    assert preg.age_on(dt.date(1991, 12, 4), dt.date(2026, 12, 3)) == 34
    assert preg.age_on(dt.date(1991, 12, 3), dt.date(2026, 12, 3)) == 35
    with pytest.raises(ValueError):
        preg.bmi(0, 50)


def test_baseline_answers_screen_negative() -> None:
    result = evaluate(default_rules(), BASE, {})
    assert not result.positive
    assert set(result.answers) == {"1.1", "1.2", "1.3"} | {q.item_id for q in default_rules().questions}


@pytest.mark.parametrize(("value", "number", "positive"), [
    ("age_years", 34, False), ("age_years", 35, True), ("age_years", 19, False), ("age_years", 18, True),
    ("height_cm", 145.5, False), ("height_cm", 145, True),
    ("bmi", 25.0, False), ("bmi", 25.1, True), ("bmi", 18.5, False), ("bmi", 18.4, True),
])
def test_each_derived_item_at_its_thresholds(value: str, number: float, positive: bool) -> None:
    item = {"age_years": "1.1", "height_cm": "1.2", "bmi": "1.3"}[value]
    result = evaluate(default_rules(), {**BASE, value: number}, {})
    assert result.answers[item] is positive
    assert result.positive_items == ((item,) if positive else ())


@pytest.mark.parametrize("item", [q.item_id for q in default_rules().questions])
def test_each_question_alone_makes_the_screen_positive(item: str) -> None:
    result = evaluate(default_rules(), BASE, {item: True})
    assert result.positive_items == (item,)
    assert evaluate(default_rules(), BASE, {item: False}).positive_items == ()


def test_questions_have_both_languages_and_unknown_answers_are_refused() -> None:
    for q in default_rules().questions:
        assert q.text("zh") and q.text("en") and q.text("zh") != q.text("en")
    with pytest.raises(ValueError, match="unknown"):
        evaluate(default_rules(), BASE, {"9.9": True})
    with pytest.raises(ValueError, match="needs bmi"):
        evaluate(default_rules(), {"age_years": 30, "height_cm": 160}, {})


def test_rules_file_is_validated() -> None:
    with pytest.raises(ValueError, match="unique"):
        parse_rules({"derived": [], "questions": [{"item": "1", "zh": "a", "en": "a"}, {"item": "1", "zh": "b", "en": "b"}]})
    with pytest.raises(ValueError, match="threshold"):
        parse_rules({"derived": [{"id": "1", "zh": "a", "en": "a", "value": "bmi"}], "questions": []})
    asked = [{"item": "4.1", "zh": "a", "en": "b"}]
    with pytest.raises(ValueError, match="unique"):  # an item is asked or left to the doctor, not both
        parse_rules({"derived": [], "questions": asked, "left_to_doctor": [{"item": "4.1", "why": "measured"}]})
    with pytest.raises(ValueError, match="why"):
        parse_rules({"derived": [], "questions": [], "left_to_doctor": [{"item": "4.1", "why": " "}]})


def test_screen_messages_send_to_a_doctor_and_assign_no_colour() -> None:
    for code in ("screen_positive", "screen_negative"):
        zh, en = CATALOGUE[code]
        assert "医生" in zh and "doctor" in en
        assert "不评定" in zh and "does not assign" in en
        for colour in ("橙色", "红色", "紫色", "绿色"):
            assert colour not in zh
