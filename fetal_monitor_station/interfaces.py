"""What the runtime needs from analysis and alarms (Protocols), and the gap-filling feeder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from fetal_monitor_station.episodes import Episode
from fetal_monitor_station.trace import SAMPLE_HZ, CtgSample


class Analyzer(Protocol):
    def push(self, sample: CtgSample) -> list[Any]: ...


AnalyzerFactory = Callable[[str, Episode], Analyzer]


@dataclass(frozen=True)
class AlarmChange:
    """An alarm raised, acknowledged, escalated or cleared on a bed."""

    alarm_id: str
    kind: str
    event: str  # raised | acknowledged | cleared | escalated
    severity: str = ""
    message: str = ""
    nurse_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class AlarmPolicy(Protocol):
    """Turns analysis output into alarm changes (adapter over the alarm manager)."""

    def update(self, bed_id: str, episode: Episode, sample: CtgSample, events: Sequence[Any],
               analyzer: Analyzer | None) -> list[AlarmChange]: ...

    def acknowledge(self, bed_id: str, alarm_id: str, nurse_id: str, at_s: float) -> list[AlarmChange]: ...

    def reset(self, bed_id: str) -> list[AlarmChange]: ...

    def tick(self) -> list[tuple[str, AlarmChange]]:
        """Clock-driven changes (escalation, silent monitors), with their bed ids."""
        ...

    def connection(self, bed_id: str, connected: bool) -> list[AlarmChange]: ...


ClassificationOf = Callable[[Any], dict[str, Any] | None]


class BedAnalysis:
    """One bed's analyzer, fed strictly consecutive 4 Hz samples (gaps filled with no-signal)."""

    def __init__(self, episode_id: int, analyzer: Analyzer, first_t_s: float) -> None:
        self.episode_id = episode_id
        self.analyzer = analyzer
        self.next_t_s = first_t_s

    def push(self, sample: CtgSample) -> list[Any]:
        events: list[Any] = []
        period = 1.0 / SAMPLE_HZ
        while sample.t_s - self.next_t_s > period / 2:
            events += self.analyzer.push(CtgSample(self.next_t_s))
            self.next_t_s += period
        if sample.t_s < self.next_t_s - period / 2:
            return events  # older than what the analyzer has seen (clock step back): skip
        events += self.analyzer.push(sample)
        self.next_t_s = sample.t_s + period
        return events
