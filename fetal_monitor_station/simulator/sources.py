"""Trace sources for simulated monitors: the analysis helper's seeded synthetic generator.

Each bed gets its own seed and a clinical pattern from `PATTERNS` (cycled), so a simulated
ward shows normal, late-deceleration, variable-deceleration and bradycardia traces side by side.
"""

from __future__ import annotations

from collections.abc import Iterator

from fetal_monitor_station.sources.synthetic import Span, SyntheticSpec, generate
from fetal_monitor_station.trace import CtgSample, Trace

TRACE_S = 3600.0
PATTERNS: tuple[dict[str, object], ...] = (
    {},
    {"decel_types": ("late",)},
    {"decel_types": ("variable", "early"), "decel_every": 2},
    {"bradycardia": (Span(1200.0, 2100.0, 95.0),)},
    {"signal_loss_fraction": 0.1},
)


class SyntheticSource:
    """A re-iterable CTG source (each iteration replays the same seeded trace)."""

    def __init__(self, spec: SyntheticSpec) -> None:
        self.spec = spec
        self._trace: Trace | None = None

    def __iter__(self) -> Iterator[CtgSample]:
        trace = self._trace
        if trace is None:
            trace = self._trace = generate(self.spec)[0]
        return trace.samples()


def bed_name(i: int) -> str:
    return f"bed-{i + 1:02d}"


def synthetic_sources(n_beds: int, seed: int = 1, duration_s: float = TRACE_S) -> list[tuple[str, SyntheticSource]]:
    out = []
    for i in range(n_beds):
        pattern = PATTERNS[i % len(PATTERNS)]
        spec = SyntheticSpec(duration_s=duration_s, seed=seed * 1000 + i, with_mhr=True, **pattern)  # type: ignore[arg-type]
        out.append((bed_name(i), SyntheticSource(spec)))
    return out
