"""The nurse station's own journal (SQLite, WAL): audit trail, alarm events, notes and marks, reports.

The audit trail is append-only and hash-chained (each row's SHA-256 covers the previous hash),
so a row changed or removed afterwards is found by `verify()`. Notes and nurse event marks
belong to an episode at a point in time; printed reports are archived with their episode.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fetal_monitor_station.errors import ArchiveError

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    nurse_id TEXT NOT NULL,
    action TEXT NOT NULL,
    bed_id TEXT,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notes (
    note_id INTEGER PRIMARY KEY AUTOINCREMENT,
    episode_id INTEGER NOT NULL,
    bed_id TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    nurse_id TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notes_by_episode ON notes(episode_id, at_ms);
CREATE TABLE IF NOT EXISTS alarm_events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    bed_id TEXT NOT NULL,
    episode_id INTEGER NOT NULL,
    alarm_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    event TEXT NOT NULL,
    priority INTEGER NOT NULL,
    nurse_id TEXT
);
CREATE INDEX IF NOT EXISTS alarm_events_by_episode ON alarm_events(episode_id, at_ms);
CREATE TABLE IF NOT EXISTS reports (
    report_id INTEGER PRIMARY KEY AUTOINCREMENT,
    episode_id INTEGER NOT NULL,
    made_ms INTEGER NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    nurse_id TEXT NOT NULL
);
"""
GENESIS = "0" * 64
NURSE_ID_MAX = 64
NOTE_MAX_CHARS = 500


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at_ms: int
    nurse_id: str
    action: str
    bed_id: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class Note:
    note_id: int
    episode_id: int
    bed_id: str
    at_ms: int
    nurse_id: str
    text: str


@dataclass(frozen=True)
class AlarmEvent:
    at_ms: int
    bed_id: str
    episode_id: int
    alarm_id: str
    kind: str
    event: str
    priority: int
    nurse_id: str | None


@dataclass(frozen=True)
class ReportEntry:
    report_id: int
    episode_id: int
    made_ms: int
    start_ms: int
    end_ms: int
    path: str
    sha256: str
    nurse_id: str


def _digest(prev: str, at_ms: int, nurse_id: str, action: str, bed_id: str | None, detail: str) -> str:
    payload = json.dumps([prev, at_ms, nurse_id, action, bed_id, detail], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def check_nurse_id(nurse_id: str) -> str:
    nid = nurse_id.strip()
    if not nid or len(nid) > NURSE_ID_MAX:
        raise ValueError(f"nurse id must be 1..{NURSE_ID_MAX} characters")
    return nid


class NurseJournal:
    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=5.0)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise ArchiveError(f"nurse journal {self.path}: cannot open ({exc})") from None

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        with self._lock:
            try:
                cur = self.db.execute(sql, params)
            except sqlite3.Error as exc:
                raise ArchiveError(f"nurse journal {self.path}: write failed ({exc})") from None
            return int(cur.lastrowid or 0)

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- audit --------------------------------------------------------------------------
    def audit(self, nurse_id: str, action: str, bed_id: str | None = None, **detail: Any) -> int:
        nid = check_nurse_id(nurse_id)
        text = json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)
        at = self.now_ms()
        with self._lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                row = self.db.execute("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
                prev = row[0] if row else GENESIS
                cur = self.db.execute("INSERT INTO audit(at_ms, nurse_id, action, bed_id, detail, prev_hash, hash) "
                                      "VALUES (?, ?, ?, ?, ?, ?, ?)",
                                      (at, nid, action, bed_id, text, prev, _digest(prev, at, nid, action, bed_id,
                                                                                    text)))
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise ArchiveError(f"nurse journal {self.path}: audit write failed ({exc})") from None
            return int(cur.lastrowid or 0)

    def audit_entries(self, bed_id: str | None = None) -> list[AuditEntry]:
        sql = "SELECT seq, at_ms, nurse_id, action, bed_id, detail FROM audit"
        rows = self._read(sql + (" WHERE bed_id = ?" if bed_id else "") + " ORDER BY seq", (bed_id,) if bed_id else ())
        return [AuditEntry(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def verify(self) -> int | None:
        """The seq of the first row that breaks the hash chain, or None when it is intact."""
        prev = GENESIS
        for seq, at, nid, action, bed, detail, prev_hash, h in self._read(
                "SELECT seq, at_ms, nurse_id, action, bed_id, detail, prev_hash, hash FROM audit ORDER BY seq"):
            if prev_hash != prev or h != _digest(prev, at, nid, action, bed, detail):
                return int(seq)
            prev = h
        return None

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self.db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise ArchiveError(f"nurse journal {self.path}: read failed ({exc})") from None

    # -- notes and marks ----------------------------------------------------------------
    def add_note(self, episode_id: int, bed_id: str, nurse_id: str, text: str, at_ms: int | None = None) -> Note:
        nid = check_nurse_id(nurse_id)
        body = text.strip()
        if not body or len(body) > NOTE_MAX_CHARS:
            raise ValueError(f"a note must be 1..{NOTE_MAX_CHARS} characters")
        at = self.now_ms() if at_ms is None else at_ms
        note_id = self._write("INSERT INTO notes(episode_id, bed_id, at_ms, nurse_id, text) VALUES (?, ?, ?, ?, ?)",
                              (episode_id, bed_id, at, nid, body))
        return Note(note_id, episode_id, bed_id, at, nid, body)

    def notes(self, episode_id: int, start_ms: int = 0, end_ms: int = 2**62) -> list[Note]:
        rows = self._read("SELECT note_id, episode_id, bed_id, at_ms, nurse_id, text FROM notes "
                          "WHERE episode_id = ? AND at_ms >= ? AND at_ms < ? ORDER BY at_ms",
                          (episode_id, start_ms, end_ms))
        return [Note(*r) for r in rows]

    # -- alarm events -------------------------------------------------------------------
    def add_alarm_event(self, bed_id: str, episode_id: int, alarm_id: str, kind: str, event: str, priority: int,
                        nurse_id: str | None, at_ms: int) -> None:
        self._write("INSERT INTO alarm_events(at_ms, bed_id, episode_id, alarm_id, kind, event, priority, nurse_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (at_ms, bed_id, episode_id, alarm_id, kind, event, priority,
                                                      nurse_id))

    def alarm_events(self, episode_id: int, start_ms: int = 0, end_ms: int = 2**62) -> list[AlarmEvent]:
        rows = self._read("SELECT at_ms, bed_id, episode_id, alarm_id, kind, event, priority, nurse_id "
                          "FROM alarm_events WHERE episode_id = ? AND at_ms >= ? AND at_ms <= ? ORDER BY event_id",
                          (episode_id, start_ms, end_ms))
        return [AlarmEvent(*r) for r in rows]

    def recent_alarm_events(self, per_bed: int) -> list[AlarmEvent]:
        """The last `per_bed` alarm events of every bed, oldest first (a restarted screen's history)."""
        rows = self._read("SELECT at_ms, bed_id, episode_id, alarm_id, kind, event, priority, nurse_id FROM "
                          "(SELECT *, row_number() OVER (PARTITION BY bed_id ORDER BY event_id DESC) AS n "
                          "FROM alarm_events) WHERE n <= ? ORDER BY event_id", (per_bed,))
        return [AlarmEvent(*r) for r in rows]

    # -- reports ------------------------------------------------------------------------
    def add_report(self, episode_id: int, start_ms: int, end_ms: int, path: Path, sha256: str,
                   nurse_id: str) -> ReportEntry:
        nid = check_nurse_id(nurse_id)
        made = self.now_ms()
        rid = self._write("INSERT INTO reports(episode_id, made_ms, start_ms, end_ms, path, sha256, nurse_id) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?)", (episode_id, made, start_ms, end_ms, str(path), sha256, nid))
        return ReportEntry(rid, episode_id, made, start_ms, end_ms, str(path), sha256, nid)

    def reports(self, episode_id: int) -> list[ReportEntry]:
        rows = self._read("SELECT report_id, episode_id, made_ms, start_ms, end_ms, path, sha256, nurse_id "
                          "FROM reports WHERE episode_id = ? ORDER BY report_id", (episode_id,))
        return [ReportEntry(*r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self.db.close()
