"""Episodes: a patient's stay on a bed. Every archived sample belongs to one.

`admit` opens an episode for a patient (id, name, gestational age); `discharge` closes it.
A monitor that starts sending signal on a bed nobody was admitted to gets an *unidentified*
episode (no patient) so no trace is ever orphaned; admitting a patient to that bed then
identifies the open episode instead of cutting the trace. At most one open episode per bed
(enforced by a unique index in the archive).
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from fetal_monitor_station.archive.store import Archive
from fetal_monitor_station.errors import ArchiveError, EpisodeError

PATIENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
BED_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
NAME_MAX_CHARS = 64
GA_WEEKS_RANGE = (20, 44)  # weeks + days of a CTG-monitored pregnancy


@dataclass(frozen=True)
class Episode:
    episode_id: int
    bed_id: str
    admitted_ms: int
    patient_id: str | None = None
    patient_name: str | None = None
    ga_weeks: int | None = None
    ga_days: int | None = None
    discharged_ms: int | None = None

    @property
    def identified(self) -> bool:
        return self.patient_id is not None

    @property
    def admitted_s(self) -> float:
        return self.admitted_ms / 1000.0

    def record(self, event: str, at_ms: int) -> dict[str, object]:
        """Body of an `episode/1` record."""
        body: dict[str, object] = {"event": event, "episode_id": self.episode_id, "bed": self.bed_id,
                                   "admitted_ms": self.admitted_ms, "at_ms": at_ms}
        for key in ("patient_id", "patient_name", "ga_weeks", "ga_days", "discharged_ms"):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        return body


@dataclass(frozen=True)
class Patient:
    patient_id: str
    name: str
    ga_weeks: int
    ga_days: int = 0

    def __post_init__(self) -> None:
        if not PATIENT_ID_RE.match(self.patient_id):
            raise EpisodeError(f"patient id {self.patient_id!r}: want {PATIENT_ID_RE.pattern}")
        if not self.name.strip() or len(self.name) > NAME_MAX_CHARS:
            raise EpisodeError(f"patient name must be 1..{NAME_MAX_CHARS} characters")
        if not GA_WEEKS_RANGE[0] <= self.ga_weeks <= GA_WEEKS_RANGE[1] or not 0 <= self.ga_days <= 6:
            raise EpisodeError(f"gestational age {self.ga_weeks}+{self.ga_days}: want weeks in "
                               f"{GA_WEEKS_RANGE[0]}..{GA_WEEKS_RANGE[1]} and days 0..6")


_COLUMNS = "episode_id, bed_id, admitted_ms, patient_id, patient_name, ga_weeks, ga_days, discharged_ms"


class EpisodeBook:
    """Admissions and discharges, stored in the archive; open episodes cached per bed."""

    def __init__(self, archive: Archive, clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.archive = archive
        self._clock_ms = clock_ms
        with archive.lock:
            rows = archive.db.execute(f"SELECT {_COLUMNS} FROM episodes WHERE discharged_ms IS NULL").fetchall()
        self._open: dict[str, Episode] = {r[1]: Episode(*r) for r in rows}

    def current(self, bed_id: str) -> Episode | None:
        return self._open.get(bed_id)

    def open_episodes(self) -> list[Episode]:
        return sorted(self._open.values(), key=lambda e: e.bed_id)

    def get(self, episode_id: int) -> Episode:
        with self.archive.lock:
            row = self.archive.db.execute(f"SELECT {_COLUMNS} FROM episodes WHERE episode_id = ?",
                                          (episode_id,)).fetchone()
        if row is None:
            raise EpisodeError(f"no episode {episode_id}")
        return Episode(*row)

    def history(self, bed_id: str | None = None) -> list[Episode]:
        sql = f"SELECT {_COLUMNS} FROM episodes" + (" WHERE bed_id = ?" if bed_id else "") + " ORDER BY episode_id"
        with self.archive.lock:
            rows = self.archive.db.execute(sql, (bed_id,) if bed_id else ()).fetchall()
        return [Episode(*r) for r in rows]

    def _insert(self, bed_id: str, at_ms: int, patient: Patient | None) -> Episode:
        if not BED_ID_RE.match(bed_id):
            raise EpisodeError(f"bed id {bed_id!r}: want {BED_ID_RE.pattern}")
        p = (patient.patient_id, patient.name, patient.ga_weeks, patient.ga_days) if patient else (None,) * 4
        try:
            with self.archive.transaction() as db:
                cur = db.execute("INSERT INTO episodes(bed_id, admitted_ms, patient_id, patient_name, ga_weeks, "
                                 "ga_days) VALUES (?, ?, ?, ?, ?, ?)", (bed_id, at_ms, *p))
        except ArchiveError as exc:
            raise EpisodeError(f"bed {bed_id}: cannot open an episode ({exc})") from None
        if cur.lastrowid is None:
            raise EpisodeError(f"bed {bed_id}: the archive returned no episode id")
        episode = Episode(cur.lastrowid, bed_id, at_ms, *p)
        self._open[bed_id] = episode
        return episode

    def ensure(self, bed_id: str, at_ms: int | None = None) -> tuple[Episode, bool]:
        """The bed's open episode, opening an unidentified one if none; (episode, created)."""
        ep = self._open.get(bed_id)
        if ep is not None:
            return ep, False
        return self._insert(bed_id, self._clock_ms() if at_ms is None else at_ms, None), True

    def admit(self, bed_id: str, patient: Patient) -> Episode:
        """Admit a patient; identifies an open unidentified episode, refuses an occupied bed."""
        ep = self._open.get(bed_id)
        if ep is None:
            return self._insert(bed_id, self._clock_ms(), patient)
        if ep.identified:
            raise EpisodeError(f"bed {bed_id} is occupied by episode {ep.episode_id} (patient {ep.patient_id}); "
                               "discharge first")
        try:
            with self.archive.transaction() as db:
                db.execute("UPDATE episodes SET patient_id = ?, patient_name = ?, ga_weeks = ?, ga_days = ? "
                           "WHERE episode_id = ?", (patient.patient_id, patient.name, patient.ga_weeks,
                                                    patient.ga_days, ep.episode_id))
        except (ArchiveError, sqlite3.Error) as exc:
            raise EpisodeError(f"bed {bed_id}: cannot admit ({exc})") from None
        ep = Episode(ep.episode_id, bed_id, ep.admitted_ms, patient.patient_id, patient.name, patient.ga_weeks,
                     patient.ga_days)
        self._open[bed_id] = ep
        return ep

    def assign(self, episode_id: int, patient: Patient) -> Episode:
        """Identify an unidentified episode (a trace recorded before admission), open or closed."""
        ep = self.get(episode_id)
        if ep.identified:
            raise EpisodeError(f"episode {episode_id} already belongs to patient {ep.patient_id}")
        if ep.discharged_ms is None:
            return self.admit(ep.bed_id, patient)
        try:
            with self.archive.transaction() as db:
                db.execute("UPDATE episodes SET patient_id = ?, patient_name = ?, ga_weeks = ?, ga_days = ? "
                           "WHERE episode_id = ? AND patient_id IS NULL", (patient.patient_id, patient.name,
                                                                          patient.ga_weeks, patient.ga_days,
                                                                          episode_id))
        except ArchiveError as exc:
            raise EpisodeError(f"episode {episode_id}: cannot assign ({exc})") from None
        return self.get(episode_id)

    def discharge(self, bed_id: str) -> Episode:
        ep = self._open.get(bed_id)
        if ep is None:
            raise EpisodeError(f"bed {bed_id} has no open episode")
        at_ms = max(self._clock_ms(), ep.admitted_ms)
        self.archive.close_episode(ep.episode_id)
        with self.archive.transaction() as db:
            db.execute("UPDATE episodes SET discharged_ms = ? WHERE episode_id = ?", (at_ms, ep.episode_id))
        del self._open[bed_id]
        return Episode(ep.episode_id, bed_id, ep.admitted_ms, ep.patient_id, ep.patient_name, ep.ga_weeks,
                       ep.ga_days, at_ms)
