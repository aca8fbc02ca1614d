"""The patient-answerable part of the five-colour screening form (筛查表), as data.

Every question stands for one item of the hub's form (its `item_id` is the form's item code, the key
of her answer); an item she cannot answer herself is listed as left to the doctor, with why.
A positive screen means "see a doctor for grading" and nothing else: the kiosk never assigns a
colour (green included): grading (评估分级) is a clinician's job at a level-2+ hospital.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

RULES_FILE = "screening_items.json"


@dataclass(frozen=True)
class Question:
    item_id: str
    zh: str
    en: str

    def text(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class DerivedItem:
    item_id: str
    zh: str
    en: str
    value: str                 # name of the measured value it reads
    ge: float | None = None    # positive when value >= ge
    le: float | None = None
    gt: float | None = None
    lt: float | None = None

    def positive(self, value: float) -> bool:
        return ((self.ge is not None and value >= self.ge) or (self.le is not None and value <= self.le)
                or (self.gt is not None and value > self.gt) or (self.lt is not None and value < self.lt))


@dataclass(frozen=True)
class LeftToDoctor:
    item_id: str
    why: str


@dataclass(frozen=True)
class ScreeningRules:
    derived: tuple[DerivedItem, ...]
    questions: tuple[Question, ...]
    left_to_doctor: tuple[LeftToDoctor, ...] = ()


@dataclass(frozen=True)
class ScreenResult:
    answers: dict[str, bool]          # every item id -> positive?
    positive_items: tuple[str, ...]

    @property
    def positive(self) -> bool:
        return bool(self.positive_items)


def parse_rules(data: dict[str, Any]) -> ScreeningRules:
    derived = tuple(DerivedItem(d["id"], d["zh"], d["en"], d["value"], d.get("positive_if_ge"),
                                d.get("positive_if_le"), d.get("positive_if_gt"), d.get("positive_if_lt"))
                    for d in data["derived"])
    questions = tuple(Question(q["item"], q["zh"], q["en"]) for q in data["questions"])
    left = tuple(LeftToDoctor(x["item"], x["why"]) for x in data.get("left_to_doctor", ()))
    ids = [d.item_id for d in derived] + [q.item_id for q in questions] + [x.item_id for x in left]
    if len(set(ids)) != len(ids):
        raise ValueError("screening item ids must be unique (an item is derived, asked or left to the doctor)")
    if any(d.ge is d.le is d.gt is d.lt is None for d in derived):
        raise ValueError("a derived screening item needs a threshold")
    if any(not x.why.strip() for x in left):
        raise ValueError("an item left to the doctor needs the reason why")
    return ScreeningRules(derived, questions, left)


@cache
def default_rules() -> ScreeningRules:
    return parse_rules(json.loads(resources.files(__package__).joinpath(RULES_FILE).read_text("utf-8")))


def evaluate(rules: ScreeningRules, values: dict[str, float], answers: dict[str, bool]) -> ScreenResult:
    """`values`: age_years, height_cm, bmi; `answers`: question id -> yes. Unanswered = no."""
    unknown = set(answers) - {q.item_id for q in rules.questions}
    if unknown:
        raise ValueError(f"unknown screening question(s): {', '.join(sorted(unknown))}")
    result: dict[str, bool] = {}
    for item in rules.derived:
        if item.value not in values:
            raise ValueError(f"screening needs {item.value}")
        result[item.item_id] = item.positive(values[item.value])
    for q in rules.questions:
        result[q.item_id] = bool(answers.get(q.item_id, False))
    return ScreenResult(result, tuple(i for i, positive in result.items() if positive))
