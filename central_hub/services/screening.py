"""The five-colour screening form (筛查表) as data (data/screening.json): which items are positive.

A positive screen sends her to a doctor for grading; this module never assigns a colour.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from central_hub.services.errors import bad_request


@dataclass(frozen=True)
class ScreeningRules:
    computed: tuple[dict[str, Any], ...]
    answered: frozenset[str]

    def positive_items(self, facts: dict[str, float], answers: dict[str, bool]) -> tuple[str, ...]:
        """Item ids that screen positive: computed ones from `facts`, answered ones from `answers`."""
        computed_ids = {rule["id"] for rule in self.computed}
        unknown = set(answers) - self.answered - computed_ids
        if unknown:
            raise bad_request(f"unknown screening items {sorted(unknown)}")
        if any(not isinstance(v, bool) for v in answers.values()):
            raise bad_request("screening answers must be true or false")
        # computed items are decided here from her data, whatever the kiosk sent for them
        hits = [rule["id"] for rule in self.computed if _computed_hit(rule, facts[rule["test"]])]
        hits += [item for item, yes in answers.items() if yes and item not in computed_ids]
        return tuple(sorted(hits, key=_item_order))


def _computed_hit(rule: dict[str, Any], value: float) -> bool:
    if "at_least" in rule and value >= rule["at_least"]:
        return True
    if "at_most" in rule and value <= rule["at_most"]:
        return True
    if "above" in rule and value > rule["above"]:
        return True
    return "below" in rule and value < rule["below"]


def _item_order(item_id: str) -> tuple[int, ...]:
    return tuple(int(p) for p in item_id.split("."))


@cache
def load_rules() -> ScreeningRules:
    doc = json.loads((resources.files("central_hub.services") / "data" / "screening.json").read_text("utf-8"))
    return ScreeningRules(tuple(doc["computed"]), frozenset(i["id"] for i in doc["answered"]))
