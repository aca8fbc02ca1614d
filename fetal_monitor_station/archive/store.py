"""The local archive: every sample of every episode, in SQLite (WAL), one row per minute.

Writes go to in-memory minute blocks and are committed by `flush()` (the station calls it
about once a second) in one transaction, so a crash or SIGKILL loses at most the samples
since the last flush and never corrupts the file (WAL + atomic commit). `synchronous=NORMAL`
survives a killed process; choose FULL to also survive power loss of the last commits.
A minute already on disk (from before a restart) is loaded and merged, never overwritten.
Readers (nurse UI, report) open their own connection with `ArchiveReader`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fetal_monitor_station.archive.codec import MinuteBlock, minute_of
from fetal_monitor_station.errors import ArchiveError
from fetal_monitor_station.trace import CtgSample
from mch_link.privatefile import prepare_private_db

SCHEMA = """
CREATE TABLE IF NOT EXISTS episodes (
    episode_id INTEGER PRIMARY KEY AUTOINCREMENT,
    bed_id TEXT NOT NULL,
    patient_id TEXT,
    patient_name TEXT,
    ga_weeks INTEGER,
    ga_days INTEGER,
    admitted_ms INTEGER NOT NULL,
    discharged_ms INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS one_open_episode_per_bed ON episodes(bed_id) WHERE discharged_ms IS NULL;
CREATE INDEX IF NOT EXISTS episodes_by_bed ON episodes(bed_id, admitted_ms);
CREATE TABLE IF NOT EXISTS ctg_minutes (
    episode_id INTEGER NOT NULL REFERENCES episodes(episode_id),
    minute_ms INTEGER NOT NULL,
    n_samples INTEGER NOT NULL,
    blob BLOB NOT NULL,
    PRIMARY KEY (episode_id, minute_ms)
) WITHOUT ROWID;
"""
SYNCHRONOUS_MODES = ("NORMAL", "FULL")
BUSY_TIMEOUT_S = 5.0


def connect(path: Path, synchronous: str = "NORMAL", readonly: bool = False) -> sqlite3.Connection:
    if synchronous not in SYNCHRONOUS_MODES:
        raise ArchiveError(f"archive synchronous must be one of {SYNCHRONOUS_MODES}, got {synchronous!r}")
    try:
        if readonly:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S,
                                 check_same_thread=False, isolation_level=None)
        else:
            prepare_private_db(path)  # patient names: 0600 in a 0700 directory, whatever the umask
            db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={synchronous}")
            db.executescript(SCHEMA)
    except (sqlite3.Error, OSError) as exc:
        raise ArchiveError(f"archive {path}: cannot open ({exc})") from None
    return db


class Archive:
    """Owner of the archive file; thread-safe (one connection behind a lock)."""

    def __init__(self, path: Path | str, synchronous: str = "NORMAL") -> None:
        self.path = Path(path)
        self.db = connect(self.path, synchronous)
        self.lock = threading.RLock()
        self._open: dict[tuple[int, int], MinuteBlock] = {}
        self._dirty: set[tuple[int, int]] = set()
        self._latest_minute: dict[int, int] = {}
        self.samples_appended = 0
        self.samples_committed = 0

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                yield self.db
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise ArchiveError(f"archive {self.path}: write failed ({exc})") from None

    def append(self, episode_id: int, sample: CtgSample) -> None:
        """Buffer one sample (absolute UNIX `t_s`); durable after the next `flush()`."""
        minute_ms, slot = minute_of(sample.t_s)
        key = (episode_id, minute_ms)
        with self.lock:
            block = self._open.get(key)
            if block is None:
                block = self._load(episode_id, minute_ms) or MinuteBlock(minute_ms)
                self._open[key] = block
            block.put(slot, sample)
            self._dirty.add(key)
            if minute_ms > self._latest_minute.get(episode_id, -1):
                self._latest_minute[episode_id] = minute_ms
            self.samples_appended += 1

    def _load(self, episode_id: int, minute_ms: int) -> MinuteBlock | None:
        row = self.db.execute("SELECT blob FROM ctg_minutes WHERE episode_id = ? AND minute_ms = ?",
                              (episode_id, minute_ms)).fetchone()
        return MinuteBlock.decode(minute_ms, row[0]) if row else None

    def flush(self) -> int:
        """Commit every changed minute; returns how many minute rows were written."""
        with self.lock:
            if not self._dirty:
                return 0
            rows = [(ep, m, self._open[(ep, m)].count(), self._open[(ep, m)].encode()) for ep, m in self._dirty]
            with self.transaction() as db:
                db.executemany("INSERT INTO ctg_minutes(episode_id, minute_ms, n_samples, blob) VALUES (?, ?, ?, ?) "
                               "ON CONFLICT(episode_id, minute_ms) DO UPDATE SET n_samples = excluded.n_samples, "
                               "blob = excluded.blob", rows)
            self._dirty.clear()
            self.samples_committed = self.samples_appended
            # Keep only each episode's newest minute in memory; older ones are complete.
            for key in [k for k in self._open if k[1] < self._latest_minute.get(k[0], -1)]:
                del self._open[key]
            return len(rows)

    def close_episode(self, episode_id: int) -> None:
        """Flush and forget an episode's buffers (after discharge)."""
        with self.lock:
            self.flush()
            for key in [k for k in self._open if k[0] == episode_id]:
                del self._open[key]
            self._latest_minute.pop(episode_id, None)

    def buffered_minutes(self) -> int:
        return len(self._open)

    def close(self) -> None:
        with self.lock:
            self.flush()
            self.db.close()


class ArchiveReader:
    """History for the nurse UI and reports, on its own read-only connection."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise ArchiveError(f"archive {self.path}: no such file")
        self.db = connect(self.path, readonly=True)

    def history(self, episode_id: int, start_s: float, end_s: float) -> list[CtgSample]:
        """Samples of one episode with start_s <= t_s < end_s (UNIX seconds), in time order."""
        first_ms = minute_of(start_s)[0]
        try:
            rows = self.db.execute(
                "SELECT minute_ms, blob FROM ctg_minutes WHERE episode_id = ? AND minute_ms >= ? AND minute_ms < ? "
                "ORDER BY minute_ms", (episode_id, first_ms, int(end_s * 1000))).fetchall()
        except sqlite3.Error as exc:
            raise ArchiveError(f"archive {self.path}: read failed ({exc})") from None
        out: list[CtgSample] = []
        for minute_ms, blob in rows:
            out.extend(MinuteBlock.decode(minute_ms, blob).samples(start_s, end_s))
        return out

    def bed_history(self, bed_id: str, start_s: float, end_s: float) -> dict[int, list[CtgSample]]:
        """Samples of every episode on a bed overlapping the range, by episode id."""
        try:
            eps = self.db.execute(
                "SELECT episode_id FROM episodes WHERE bed_id = ? AND admitted_ms < ? "
                "AND (discharged_ms IS NULL OR discharged_ms >= ?) ORDER BY admitted_ms",
                (bed_id, int(end_s * 1000), int(start_s * 1000))).fetchall()
        except sqlite3.Error as exc:
            raise ArchiveError(f"archive {self.path}: read failed ({exc})") from None
        return {ep: self.history(ep, start_s, end_s) for (ep,) in eps}

    def _one(self, sql: str, params: tuple[object, ...] = ()) -> object:
        try:
            return self.db.execute(sql, params).fetchone()[0]
        except sqlite3.Error as exc:
            raise ArchiveError(f"archive {self.path}: read failed ({exc})") from None

    def sample_count(self, episode_id: int | None = None) -> int:
        sql = "SELECT coalesce(sum(n_samples), 0) FROM ctg_minutes"
        if episode_id is None:
            return int(self._one(sql))  # type: ignore[call-overload]
        return int(self._one(sql + " WHERE episode_id = ?", (episode_id,)))  # type: ignore[call-overload]

    def integrity_check(self) -> str:
        return str(self._one("PRAGMA integrity_check"))

    def close(self) -> None:
        self.db.close()
