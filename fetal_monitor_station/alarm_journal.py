"""Every alarm change the engine publishes, written to the nurse journal, with or without a screen.

Registered as a station listener by `mch-station run` and `mch-station ui` alike, so an alarm
raised, escalated, acknowledged or cleared while no nurse screen runs is in the journal the
screen (alarm history) and the A4 report read later. The alarm board adds only what it decides
itself (latched, released, silenced). Runs on the station's worker thread: one small insert per
change (alarm changes are rare); a failing write is counted and logged by the station, never
stops acquisition.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fetal_monitor_station.interfaces import AlarmChange
from fetal_monitor_station.nurse_journal import NurseJournal

PRIORITIES = {"low": 1, "medium": 2, "high": 3}
DEFAULT_PRIORITY = 2  # a change without a severity (some clears) keeps the alarm's usual medium


def journal_path(archive: Path) -> Path:
    """The nurse journal (audit, alarm events, notes, reports) lives next to the archive."""
    return archive.with_name(archive.stem + "-nurse.sqlite3")


class AlarmJournaller:
    """A station listener: `station.listeners.append(AlarmJournaller(journal, clock))`."""

    def __init__(self, journal: NurseJournal, clock: Callable[[], float]) -> None:
        self._journal = journal
        self._clock = clock
        self._priority: dict[str, int] = {}  # alarm id -> last priority (escalation raises it)
        self.written = 0

    def __call__(self, bed_id: str, episode_id: int, item: Any) -> None:
        if not isinstance(item, AlarmChange):
            return
        prio = PRIORITIES.get(item.severity) or self._priority.get(item.alarm_id, DEFAULT_PRIORITY)
        if item.event == "cleared":
            self._priority.pop(item.alarm_id, None)
        else:
            self._priority[item.alarm_id] = max(prio, self._priority.get(item.alarm_id, 0))
            prio = self._priority[item.alarm_id]
        self._journal.add_alarm_event(bed_id, episode_id, item.alarm_id, item.kind, item.event, prio,
                                      item.nurse_id, int(self._clock() * 1000))
        self.written += 1
