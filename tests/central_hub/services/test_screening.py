"""The hub's screening form (data/screening.json): each answered item's terms are the form's own
words for its conditions (what a kiosk question standing for it must name), none shared by two items."""

from __future__ import annotations

import json
import re
from importlib import resources

FORM = json.loads((resources.files("central_hub.services") / "data" / "screening.json").read_text("utf-8"))


def _plain(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_each_answered_item_names_its_conditions_in_the_forms_words() -> None:
    for item in FORM["answered"]:
        assert item["terms"], item["id"]
        wording = _plain(item["zh"])
        assert [t for t in item["terms"] if _plain(t) not in wording] == [], item["id"]


def test_no_term_belongs_to_two_items() -> None:
    owners: dict[str, list[str]] = {}
    for item in FORM["answered"]:
        for term in item["terms"]:
            owners.setdefault(term, []).append(item["id"])
    assert {t: ids for t, ids in owners.items() if len(ids) > 1} == {}
