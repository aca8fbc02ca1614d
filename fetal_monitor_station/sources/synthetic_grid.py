"""The deceleration-type grid: synthetic traces whose decelerations spread over what FIGO/NICHD
allow for each type, and the per-type confusion of an analysis against their truth."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..analysis.events import DEC_EARLY, DEC_LATE, DEC_PROLONGED, DEC_TYPES, DEC_VARIABLE
from ..analysis.metrics import match_events
from .synthetic import GroundTruth, SyntheticSpec

MISSED = "missed"
GRID_TYPES = ((DEC_EARLY,), (DEC_LATE,), (DEC_VARIABLE,), (DEC_PROLONGED,),
              (DEC_EARLY, DEC_LATE, DEC_VARIABLE, DEC_PROLONGED))


def decel_type_grid(seed0: int = 5000, variabilities: tuple[float, ...] = (5.0, 10.0, 15.0, 25.0),
                    losses: tuple[float, ...] = (0.0, 0.1)) -> list[SyntheticSpec]:
    """40-min traces: variability x deceleration mix x signal loss (a prolonged deceleration with
    every 4th contraction, the others with every contraction)."""
    out: list[SyntheticSpec] = []
    for var in variabilities:
        for decs in GRID_TYPES:
            for loss in losses:
                out.append(SyntheticSpec(duration_s=2400.0, seed=seed0 + len(out) + 1, variability_bpm=var,
                                         decel_types=decs, decel_every=4 if DEC_PROLONGED in decs else 1,
                                         signal_loss_fraction=loss, accelerations_per_hour=3.0))
    return out


def type_confusion(doc: dict[str, Any], truth: GroundTruth) -> Counter[tuple[str, str]]:
    """(true type, reported type or 'missed') -> count, over the truth's decelerations."""
    found = doc["decelerations"]
    pairs = match_events([(e.start_s, e.end_s) for e in truth.decelerations],
                         [(float(d["start_s"]), float(d["end_s"])) for d in found])
    out: Counter[tuple[str, str]] = Counter()
    matched = set()
    for i, j in pairs:
        out[(str(truth.decelerations[i].type), str(found[j].get("type")))] += 1
        matched.add(i)
    for i, e in enumerate(truth.decelerations):
        if i not in matched:
            out[(str(e.type), MISSED)] += 1
    return out


def type_accuracy(conf: Counter[tuple[str, str]]) -> float:
    """Share of matched decelerations typed right (missed ones are the detector's, not counted)."""
    matched = sum(v for (_, got), v in conf.items() if got != MISSED)
    return sum(conf[(t, t)] for t in DEC_TYPES) / matched if matched else float("nan")
