"""Alarm policy over the alarm helper's `AlarmManager` (the station's `AlarmPolicy` Protocol).

Feeds the manager each analysed sample with the analyzer's snapshot, the clock ticks and the
monitor link state, and turns its changes into the station's `AlarmChange`s. Alarm ids are
made station-unique across restarts (`<boot>-<manager id>`), as the hub stores them by id.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fetal_monitor_station.alarms import AlarmChange as ManagerChange
from fetal_monitor_station.alarms import AlarmManager, AlarmThresholds
from fetal_monitor_station.episodes import Episode
from fetal_monitor_station.errors import EpisodeError
from fetal_monitor_station.station import AlarmChange, Analyzer
from fetal_monitor_station.trace import CtgSample


class ManagerAlarmPolicy:
    def __init__(self, manager: AlarmManager, boot_s: float | None = None) -> None:
        self.manager = manager
        self._boot = f"{int(boot_s if boot_s is not None else time.time()):x}"
        self._retired: set[int] = set()  # alarms already reported cleared at a discharge

    def _id(self, manager_id: int) -> str:
        return f"{self._boot}-{manager_id}"

    def _convert(self, changes: Sequence[ManagerChange]) -> list[tuple[str, AlarmChange]]:
        out = []
        for ch in changes:
            a = ch.alarm
            if a.alarm_id in self._retired:
                continue
            out.append((a.bed_id, AlarmChange(self._id(a.alarm_id), a.kind, ch.change, a.priority.name.lower(),
                                              a.message, a.acked_by)))
        return out

    def update(self, bed_id: str, episode: Episode, sample: CtgSample, events: Sequence[Any],
               analyzer: Analyzer | None) -> list[AlarmChange]:
        snapshot = getattr(analyzer, "snapshot", None)
        if snapshot is None:
            return []
        return [c for _, c in self._convert(self.manager.update(bed_id, events, snapshot()))]

    def acknowledge(self, bed_id: str, alarm_id: str, nurse_id: str, at_s: float) -> list[AlarmChange]:
        for a in self.manager.active(bed_id):
            if self._id(a.alarm_id) == alarm_id:
                try:
                    change = self.manager.ack(a.alarm_id, nurse_id)
                except (KeyError, ValueError) as exc:
                    raise EpisodeError(f"bed {bed_id}: cannot acknowledge {alarm_id}: {exc}") from None
                return [c for _, c in self._convert([change])]
        raise EpisodeError(f"bed {bed_id}: no active alarm {alarm_id}")

    def reset(self, bed_id: str) -> list[AlarmChange]:
        out = []
        for a in self.manager.active(bed_id):
            self._retired.add(a.alarm_id)
            out.append(AlarmChange(self._id(a.alarm_id), a.kind, "cleared", a.priority.name.lower(),
                                   "episode discharged"))
        return out

    def tick(self) -> list[tuple[str, AlarmChange]]:
        return self._convert(self.manager.tick())

    def connection(self, bed_id: str, connected: bool) -> list[AlarmChange]:
        return [c for _, c in self._convert(self.manager.set_connected(bed_id, connected))]

    def active_ids(self, bed_id: str) -> list[str]:
        return [self._id(a.alarm_id) for a in self.manager.active(bed_id) if a.alarm_id not in self._retired]


def make_alarm_policy(thresholds: Mapping[str, float], clock: Callable[[], float] = time.monotonic
                      ) -> ManagerAlarmPolicy:
    """Ward thresholds from the station config -> `AlarmThresholds` fields (TypeError names a bad key)."""
    return ManagerAlarmPolicy(AlarmManager(AlarmThresholds(**thresholds), clock=clock))  # type: ignore[arg-type]
