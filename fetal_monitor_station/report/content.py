"""What goes into a CTG report (pure data), and the analysis of the printed segment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fetal_monitor_station.analysis.offline import analyse_trace
from fetal_monitor_station.episodes import Episode
from fetal_monitor_station.trace import SAMPLE_HZ, CtgSample, Trace


@dataclass(frozen=True)
class ReportContent:
    station_id: str
    episode: Episode
    start_s: float  # UNIX seconds of the segment
    end_s: float
    samples: list[CtgSample]  # on the 4 Hz grid, None where there was no signal
    analysis: dict[str, Any]  # analyse_trace() of the segment (times relative to start_s)
    alarm_lines: list[str] = field(default_factory=list)  # alarms and acknowledgements, already worded
    note_lines: list[str] = field(default_factory=list)
    printed_by: str = ""
    made_s: float = 0.0

    def classification(self) -> dict[str, Any] | None:
        cls = self.analysis.get("classification") or []
        return cls[-1] if cls else None


def dense(samples: list[CtgSample], start_s: float, end_s: float) -> list[CtgSample]:
    """The segment on a full 4 Hz grid: every missing instant is a no-signal sample (a gap)."""
    n = max(0, int(round((end_s - start_s) * SAMPLE_HZ)))
    grid: list[CtgSample | None] = [None] * n
    for s in samples:
        i = int(round((s.t_s - start_s) * SAMPLE_HZ))
        if 0 <= i < n:
            grid[i] = s
    return [s if s is not None else CtgSample(start_s + i / SAMPLE_HZ) for i, s in enumerate(grid)]


def analyse_segment(samples: list[CtgSample], start_s: float, ga_weeks: int | None) -> dict[str, Any]:
    """The station's analysis over exactly the printed samples (gaps stay gaps)."""
    from fetal_monitor_station.analysis.config import CHANNEL_AUTO, AnalysisConfig

    trace = Trace.from_samples(samples, start_time_s=start_s, source="report segment")
    return analyse_trace(trace, AnalysisConfig(fhr_channel=CHANNEL_AUTO, gestation_weeks=ga_weeks),
                         with_alarms=False)
