"""Analysis and alarms over a whole recording, a few knots at a time (offline; same alarms as live).

The analyzer takes `KNOTS_PER_UPDATE` knots' samples in one `push_block`, reporting its snapshot
after each knot; the alarm manager takes them in one `update_block` with those snapshots. The
live baseline and the variability change only at knots, so every sample sees the values it
would have seen pushed one by one, and the alarms are raised at the same sample times; the clock
follows the recording's sample time.
"""

from __future__ import annotations

from ..analysis.events import AnalysisEvent, Snapshot
from ..analysis.streaming import StreamingAnalyzer
from ..trace import Trace
from .manager import AlarmManager
from .model import AlarmChange

KNOTS_PER_UPDATE = 5  # the alarms' fixed cost per call paid once per 5 knots; more make the by-sample
# fallback (a sample beyond the FHR limits) longer


class SampleClock:
    """Alarm clock that follows the sample time of the recording."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def replay(trace: Trace, analyzer: StreamingAnalyzer, alarms: AlarmManager, clock: SampleClock,
           bed_id: str) -> tuple[list[AnalysisEvent], list[AlarmChange]]:
    """Push all of `trace` (from t = 0) through `analyzer` and `alarms` (built on `clock`); returns
    the analysis events (without `finish`) and the alarm changes."""
    hz = trace.sample_hz
    knot = max(1, int(round(analyzer.config.knot_s * hz)))
    f1, f2, mh, tc = trace.fhr1_bpm, trace.fhr2_bpm, trace.mhr_bpm, trace.toco
    events: list[AnalysisEvent] = []
    changes: list[AlarmChange] = []
    group = knot * KNOTS_PER_UPDATE
    for g in range(0, len(trace), group):
        end = min(len(trace), g + group)
        knots: list[tuple[int, Snapshot]] = []
        ev = analyzer.push_block(f1[g:end], f2[g:end], mh[g:end], tc[g:end], knot_snapshots=knots)
        events += ev
        clock.now = (end - 1) / hz
        changes += alarms.update_block(bed_id, ev, analyzer.snapshot(), analyzer.recent_fhr(end - g), mh[g:end],
                                       knots)
    return events, changes
