"""The kiosk's screening questions against the hub's form (central_hub/services/data/screening.json):
each question stands for one existing hub item and names that item's conditions (and no other
item's), the computed items use the hub's thresholds, and every item on the hub's form is derived,
asked or left to the doctor with a reason."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import pytest

from central_hub.services.screening import load_rules
from kiosk.flows.screening import default_rules

KIOSK = default_rules()
HUB_FORM: dict[str, Any] = json.loads((resources.files("central_hub.services") / "data" / "screening.json")
                                      .read_text("utf-8"))
HUB_ANSWERED = {item["id"]: item for item in HUB_FORM["answered"]}
THRESHOLDS = (("ge", "at_least"), ("le", "at_most"), ("gt", "above"), ("lt", "below"))


def _plain(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_the_derived_items_are_the_hubs_computed_items_with_the_same_thresholds() -> None:
    hub = {rule["id"]: rule for rule in HUB_FORM["computed"]}
    assert sorted(d.item_id for d in KIOSK.derived) == sorted(hub)
    for item in KIOSK.derived:
        rule = hub[item.item_id]
        assert item.value == rule["test"], item.item_id
        for mine, theirs in THRESHOLDS:
            assert getattr(item, mine) == rule.get(theirs), (item.item_id, mine)


def test_every_hub_item_is_asked_or_left_to_the_doctor_with_a_reason() -> None:
    asked = [q.item_id for q in KIOSK.questions]
    left = [x.item_id for x in KIOSK.left_to_doctor]
    assert sorted(asked + left) == sorted(HUB_ANSWERED)
    assert all(len(x.why) > 20 for x in KIOSK.left_to_doctor)


@pytest.mark.parametrize("question", KIOSK.questions, ids=lambda q: q.item_id)
def test_each_question_names_the_conditions_of_its_item_and_of_no_other(question: Any) -> None:
    text = _plain(question.zh)
    own = HUB_ANSWERED[question.item_id]["terms"]
    missing = [t for t in own if _plain(t) not in text]
    assert not missing, f"{question.item_id} does not ask about {missing}"
    rest = text
    for term in own:
        rest = rest.replace(_plain(term), "")
    others = [(item, t) for item, hub in HUB_ANSWERED.items() if item != question.item_id
              for t in hub["terms"] if _plain(t) in rest]
    assert not others, f"{question.item_id} also asks about other items: {others}"


def test_the_hub_stores_each_answer_under_the_item_the_question_stands_for() -> None:
    facts = {"age_years": 28.0, "height_cm": 160.0, "bmi": 21.0}
    for question in KIOSK.questions:
        assert load_rules().positive_items(facts, {question.item_id: True}) == (question.item_id,)


def test_no_question_or_reason_assigns_a_colour() -> None:
    for text in [q.zh for q in KIOSK.questions] + [x.why for x in KIOSK.left_to_doctor]:
        assert not re.search("[绿黄橙红紫]色", text)
