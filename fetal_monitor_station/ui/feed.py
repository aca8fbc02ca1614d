"""What the nurse screen keeps of the station's stream: recent samples, analysis marks, alarm changes.

`StationFeed.listener` is registered with `Station.listeners`; it runs on the station's worker
thread and only appends to bounded deques under a lock, so it never slows acquisition. The UI
thread reads copies. Analysis times arrive relative to the episode start and are stored as
absolute UNIX seconds.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fetal_monitor_station.interfaces import AlarmChange
from fetal_monitor_station.trace import SAMPLE_HZ, CtgSample

LIVE_WINDOW_S = 20 * 60  # what the overview tiles and the live end of the detail view need
MARKS_MAX = 2000
ALARM_CHANGES_MAX = 4096


@dataclass(frozen=True)
class TraceMark:
    """An acceleration, deceleration or contraction (absolute UNIX seconds), or a minute baseline."""

    kind: str  # acceleration | deceleration | contraction | baseline
    start_s: float
    end_s: float
    type: str | None = None  # deceleration type
    value: float | None = None  # baseline bpm for kind == baseline


@dataclass(frozen=True)
class FeedAlarm:
    bed_id: str
    episode_id: int
    change: AlarmChange
    at_s: float


class _Bed:
    def __init__(self) -> None:
        self.episode_id: int | None = None
        self.samples: deque[CtgSample] = deque(maxlen=LIVE_WINDOW_S * SAMPLE_HZ)
        self.marks: deque[TraceMark] = deque(maxlen=MARKS_MAX)


class StationFeed:
    def __init__(self, episode_start_s: Callable[[int], float | None], clock: Callable[[], float]) -> None:
        """`episode_start_s(episode_id)` gives the admission time analysis times are relative to."""
        self._episode_start_s = episode_start_s
        self._clock = clock
        self._lock = threading.Lock()
        self._beds: dict[str, _Bed] = {}
        self._alarms: deque[FeedAlarm] = deque(maxlen=ALARM_CHANGES_MAX)
        self.alarms_dropped = 0

    def _bed(self, bed_id: str) -> _Bed:
        bed = self._beds.get(bed_id)
        if bed is None:
            bed = self._beds[bed_id] = _Bed()
        return bed

    def listener(self, bed_id: str, episode_id: int, item: Any) -> None:
        if isinstance(item, CtgSample):
            with self._lock:
                bed = self._bed(bed_id)
                if bed.episode_id != episode_id:
                    bed.episode_id = episode_id
                    bed.samples.clear()
                    bed.marks.clear()
                bed.samples.append(item)
        elif isinstance(item, AlarmChange):
            with self._lock:
                if len(self._alarms) == self._alarms.maxlen:
                    self.alarms_dropped += 1
                self._alarms.append(FeedAlarm(bed_id, episode_id, item, self._clock()))
        else:
            mark = self._mark(episode_id, item)
            if mark is not None:
                with self._lock:
                    self._bed(bed_id).marks.append(mark)

    def _mark(self, episode_id: int, event: Any) -> TraceMark | None:
        kind = getattr(event, "kind", None)
        t0 = self._episode_start_s(episode_id)
        if t0 is None:
            return None
        ep = getattr(event, "episode", None)
        if kind in ("acceleration", "deceleration", "contraction") and ep is not None:
            return TraceMark(kind, t0 + ep.start_s, t0 + ep.end_s, ep.type)
        if kind == "minute":
            base = getattr(event, "values", {}).get("baseline_bpm")
            if base is not None:
                return TraceMark("baseline", t0 + event.start_s, t0 + event.end_s, value=float(base))
        return None

    def samples(self, bed_id: str, episode_id: int | None = None, since_s: float = 0.0) -> list[CtgSample]:
        with self._lock:
            bed = self._beds.get(bed_id)
            if bed is None or (episode_id is not None and bed.episode_id != episode_id):
                return []
            if since_s <= 0 or not bed.samples or bed.samples[0].t_s >= since_s:
                return list(bed.samples)
            return [s for s in bed.samples if s.t_s >= since_s]

    def marks(self, bed_id: str, episode_id: int | None = None) -> list[TraceMark]:
        with self._lock:
            bed = self._beds.get(bed_id)
            if bed is None or (episode_id is not None and bed.episode_id != episode_id):
                return []
            return list(bed.marks)

    def take_alarms(self) -> list[FeedAlarm]:
        """Alarm changes since the last call (the alarm board consumes them)."""
        with self._lock:
            out = list(self._alarms)
            self._alarms.clear()
            return out
