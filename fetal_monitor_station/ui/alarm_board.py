"""The alarm board behind the banner: IEC 60601-1-8 priorities, latching, acknowledge, silence.

It follows the engine's alarm changes (raised / escalated / acknowledged / cleared) and adds
what a central station must do on top:

- FHR (clinical) alarms *latch*: when the engine clears the condition the alarm stays on the
  banner, marked "resolved", until a nurse acknowledges it (GE Corometrics behaviour).
  Technical alarms (signal loss, monitor disconnected, maternal-fetal coincidence) self-clear.
- Acknowledge needs a nurse id; an alarm the engine still holds is acknowledged in the engine
  (which publishes it to the hub), a latched one is released here. Every action is audited.
- Silence pauses the sound for `SILENCE_S` (never longer for high priority); an alarm raised
  or escalated afterwards sounds again.
- Colours: high red, medium yellow, technical cyan. Clinical and technical kept apart.
- The engine's own changes (raised, escalated, acknowledged, cleared) are written to the nurse
  journal by the station (`alarm_journal.AlarmJournaller`, also when no screen runs); the board
  writes what only it decides (latched, released, silenced), and starts with each bed's recent
  history read back from the journal, so a restarted screen shows what happened before it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from fetal_monitor_station.alarm_journal import PRIORITIES
from fetal_monitor_station.errors import EpisodeError
from fetal_monitor_station.nurse_journal import NurseJournal, check_nurse_id
from fetal_monitor_station.ui.feed import FeedAlarm

__all__ = ["PRIORITIES", "AlarmBoard", "BoardAlarm", "HistoryEntry"]
TECHNICAL_KINDS = frozenset({"signal_loss", "monitor_disconnected", "maternal_fetal_coincidence"})
SILENCE_S = 120.0
HISTORY_PER_BED = 500
BOARD_EVENTS = frozenset({"latched", "released", "silenced"})  # journalled here; the rest by the station
COLOUR_HIGH = (0.86, 0.1, 0.1, 1.0)  # red
COLOUR_MEDIUM = (0.98, 0.78, 0.05, 1.0)  # yellow
COLOUR_TECHNICAL = (0.1, 0.8, 0.9, 1.0)  # cyan


class Acknowledger(Protocol):
    def acknowledge(self, bed_id: str, alarm_id: str, nurse_id: str) -> None: ...


@dataclass(frozen=True)
class BoardAlarm:
    alarm_id: str
    bed_id: str
    episode_id: int
    kind: str
    priority: int  # 1 low, 2 medium, 3 high (current, after escalation)
    message: str
    raised_at_s: float
    escalated_at_s: float | None = None
    acked_by: str | None = None
    acked_at_s: float | None = None
    cleared_at_s: float | None = None  # the engine cleared the condition

    @property
    def technical(self) -> bool:
        return self.kind in TECHNICAL_KINDS

    @property
    def latched(self) -> bool:
        """Condition gone, still shown until acknowledged."""
        return self.cleared_at_s is not None and self.acked_by is None

    @property
    def colour(self) -> tuple[float, float, float, float]:
        if self.technical:
            return COLOUR_TECHNICAL
        return COLOUR_HIGH if self.priority >= 3 else COLOUR_MEDIUM


@dataclass(frozen=True)
class HistoryEntry:
    at_s: float
    alarm_id: str
    kind: str
    event: str  # raised | escalated | acknowledged | cleared | latched | released | silenced
    priority: int
    nurse_id: str | None = None


class AlarmBoard:
    def __init__(self, acknowledger: Acknowledger, journal: NurseJournal, clock: Callable[[], float]) -> None:
        self._ack = acknowledger
        self._journal = journal
        self._clock = clock
        self._alarms: dict[str, BoardAlarm] = {}
        self._history: dict[str, deque[HistoryEntry]] = {}
        self._silenced_until = 0.0
        self._silenced_ids: frozenset[str] = frozenset()
        for e in journal.recent_alarm_events(HISTORY_PER_BED):
            self._history.setdefault(e.bed_id, deque(maxlen=HISTORY_PER_BED)).append(
                HistoryEntry(e.at_ms / 1000, e.alarm_id, e.kind, e.event, e.priority, e.nurse_id))

    # -- input from the engine ----------------------------------------------------------
    def apply(self, changes: Iterable[FeedAlarm]) -> None:
        for fa in changes:
            ch = fa.change
            prio = PRIORITIES.get(ch.severity, 2)
            cur = self._alarms.get(ch.alarm_id)
            seen = cur is not None
            if ch.event == "raised" or cur is None:
                if ch.event == "cleared":
                    continue  # never saw it raised (board started later): nothing to show
                cur = BoardAlarm(ch.alarm_id, fa.bed_id, fa.episode_id, ch.kind, prio, ch.message, fa.at_s,
                                 acked_by=ch.nurse_id if ch.event == "acknowledged" else None)
                self._alarms[ch.alarm_id] = cur
                self._log(fa.bed_id, fa.episode_id, HistoryEntry(fa.at_s, ch.alarm_id, ch.kind, "raised", prio))
                if ch.event == "raised":
                    continue
            if ch.event == "escalated":
                cur = replace(cur, priority=max(prio, cur.priority), escalated_at_s=fa.at_s)
            elif ch.event == "acknowledged" and seen and cur.acked_by is not None and cur.acked_by == ch.nurse_id:
                continue  # the engine confirming this board's own acknowledgement: already in the history
            elif ch.event == "acknowledged":
                cur = replace(cur, acked_by=ch.nurse_id or cur.acked_by, acked_at_s=cur.acked_at_s or fa.at_s)
            elif ch.event == "cleared":
                cur = replace(cur, cleared_at_s=fa.at_s)
            self._log(fa.bed_id, fa.episode_id, HistoryEntry(fa.at_s, ch.alarm_id, ch.kind, ch.event, cur.priority, ch.nurse_id))
            if ch.event == "cleared" and (cur.technical or cur.acked_by is not None):
                del self._alarms[ch.alarm_id]
            else:
                self._alarms[ch.alarm_id] = cur
                if ch.event == "cleared":
                    self._log(fa.bed_id, fa.episode_id, HistoryEntry(fa.at_s, ch.alarm_id, ch.kind, "latched", cur.priority))

    def _log(self, bed_id: str, episode_id: int, entry: HistoryEntry) -> None:
        self._history.setdefault(bed_id, deque(maxlen=HISTORY_PER_BED)).append(entry)
        if entry.event in BOARD_EVENTS:
            self._journal.add_alarm_event(bed_id, episode_id, entry.alarm_id, entry.kind, entry.event,
                                          entry.priority, entry.nurse_id, int(entry.at_s * 1000))

    # -- nurse actions ------------------------------------------------------------------
    def acknowledge(self, alarm_id: str, nurse_id: str) -> BoardAlarm:
        nid = check_nurse_id(nurse_id)
        alarm = self._alarms.get(alarm_id)
        if alarm is None:
            raise EpisodeError(f"no alarm {alarm_id} on the board")
        now = self._clock()
        if alarm.cleared_at_s is None:
            self._ack.acknowledge(alarm.bed_id, alarm_id, nid)  # engine publishes; its change comes back
            alarm = replace(alarm, acked_by=nid, acked_at_s=now)
            self._alarms[alarm_id] = alarm
            self._log(alarm.bed_id, alarm.episode_id, HistoryEntry(now, alarm_id, alarm.kind, "acknowledged", alarm.priority, nid))
        else:
            del self._alarms[alarm_id]
            alarm = replace(alarm, acked_by=nid, acked_at_s=now)
            self._log(alarm.bed_id, alarm.episode_id, HistoryEntry(now, alarm_id, alarm.kind, "released", alarm.priority, nid))
        self._journal.audit(nid, "alarm_acknowledge", alarm.bed_id, alarm_id=alarm_id, kind=alarm.kind,
                            priority=alarm.priority, latched=alarm.cleared_at_s is not None,
                            episode_id=alarm.episode_id)
        return alarm

    def acknowledge_bed(self, bed_id: str, nurse_id: str) -> list[BoardAlarm]:
        return [self.acknowledge(a.alarm_id, nurse_id) for a in self.for_bed(bed_id) if a.acked_by is None]

    def silence(self, nurse_id: str) -> float:
        """Pause the sound of what sounds now; returns the time it sounds again."""
        nid = check_nurse_id(nurse_id)
        now = self._clock()
        self._silenced_until = now + SILENCE_S
        self._silenced_ids = frozenset(a.alarm_id for a in self._sounding())
        for a in self._alarms.values():
            if a.alarm_id in self._silenced_ids:
                self._log(a.bed_id, a.episode_id, HistoryEntry(now, a.alarm_id, a.kind, "silenced", a.priority, nid))
        self._journal.audit(nid, "alarm_silence", None, alarms=sorted(self._silenced_ids), seconds=SILENCE_S)
        return self._silenced_until

    # -- views ----------------------------------------------------------------------------
    def _ordered(self, alarms: Iterable[BoardAlarm]) -> list[BoardAlarm]:
        return sorted(alarms, key=lambda a: (a.acked_by is not None, -a.priority, a.raised_at_s))

    def clinical(self) -> list[BoardAlarm]:
        return self._ordered(a for a in self._alarms.values() if not a.technical)

    def technical(self) -> list[BoardAlarm]:
        return self._ordered(a for a in self._alarms.values() if a.technical)

    def for_bed(self, bed_id: str) -> list[BoardAlarm]:
        return self._ordered(a for a in self._alarms.values() if a.bed_id == bed_id)

    def get(self, alarm_id: str) -> BoardAlarm | None:
        return self._alarms.get(alarm_id)

    def history(self, bed_id: str) -> list[HistoryEntry]:
        return list(self._history.get(bed_id, ()))

    def _sounding(self) -> list[BoardAlarm]:
        # Technical alarms are quiet at the central station; acknowledged ones do not sound.
        return [a for a in self._alarms.values() if a.acked_by is None and not a.technical]

    def audio_priority(self) -> int:
        """Priority the speaker must sound now (0 = quiet)."""
        now = self._clock()
        since = self._silenced_until - SILENCE_S
        loud = [a for a in self._sounding()
                if not (now < self._silenced_until and a.alarm_id in self._silenced_ids
                        and (a.escalated_at_s is None or a.escalated_at_s < since))]
        return max((a.priority for a in loud), default=0)

    def silenced_for_s(self) -> float:
        return max(0.0, self._silenced_until - self._clock())

    def bed_priority(self, bed_id: str) -> int:
        """Highest unacknowledged priority on a bed (drives tile order and colour)."""
        return max((a.priority for a in self._alarms.values() if a.bed_id == bed_id and a.acked_by is None),
                   default=0)
