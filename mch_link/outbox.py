"""The device's durable outbox (SQLite, WAL, synchronous=FULL).

A record is committed here before anything is sent, and deleted only when the hub's
application acknowledgement names it. Record ids come from AUTOINCREMENT, so an id is never
reused even after the newest rows are deleted. The envelope counter is reserved in blocks
written ahead of use: after a power cut the device skips the rest of a block but can never
seal two messages under one nonce.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cbor2

from mch_link.envelope import MAX_BODY_BYTES
from mch_link.errors import OutboxError
from mch_link.privatefile import prepare_private_db

COUNTER_BLOCK = 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    msg_id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    schema TEXT NOT NULL,
    made_at_ms INTEGER,
    body BLOB NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class Pending:
    msg_id: int
    kind: str
    schema: str
    made_at_ms: int | None
    body: dict[str, Any]
    size: int  # bytes of the CBOR-encoded body


class Outbox:
    """Thread-safe: one connection guarded by a lock (the session thread and the app share it)."""

    def __init__(self, path: Path | str, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self._synchronous = synchronous
        self._lock = threading.Lock()
        try:
            prepare_private_db(self.path)  # records may name patients: 0600 whatever the umask
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise OutboxError(f"outbox {self.path}: cannot open ({exc})") from None
        self._next_counter = self._meta("counter_reserved", 0)
        self._reserved = self._next_counter

    def _meta(self, key: str, default: int) -> int:
        row = self._db.execute("SELECT v FROM meta WHERE k = ?", (key,)).fetchone()
        return int(row[0]) if row else default

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT; any SQLite error rolls back and becomes an OutboxError."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            yield self._db
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise OutboxError(f"outbox {self.path}: write failed ({exc}); record not accepted") from None

    def _write(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._transaction() as db:
            db.executemany(sql, rows)

    def add(self, kind: str, schema: str, body: dict[str, Any], made_at_ms: int | None = None) -> int:
        """Commit one record; returns its id. Raises OutboxError (e.g. disk full): nothing was accepted."""
        return self.add_many(kind, schema, [(body, made_at_ms)])[0]

    def add_many(self, kind: str, schema: str, items: Sequence[tuple[dict[str, Any], int | None]]) -> list[int]:
        now = int(time.time() * 1000)
        encoded = [(kind, schema, made, cbor2.dumps(body), now) for body, made in items]
        for row in encoded:
            if len(row[3]) > MAX_BODY_BYTES:
                raise OutboxError(f"outbox {self.path}: a {schema} record of {len(row[3])} bytes cannot fit one "
                                  f"envelope (at most {MAX_BODY_BYTES}); split it")
        with self._lock, self._transaction() as db:
            ids = [db.execute("INSERT INTO outbox(kind, schema, made_at_ms, body, created_ms) VALUES (?, ?, ?, ?, ?)",
                              row).lastrowid for row in encoded]
        return [int(i) for i in ids if i is not None]

    def pending(self, after_id: int = 0, limit: int = 1000) -> list[Pending]:
        with self._lock:
            rows = self._db.execute(
                "SELECT msg_id, kind, schema, made_at_ms, body FROM outbox WHERE msg_id > ? ORDER BY msg_id LIMIT ?",
                (after_id, limit)).fetchall()
        return [Pending(r[0], r[1], r[2], r[3], cbor2.loads(r[4]), len(r[4])) for r in rows]

    def delete(self, msg_ids: Iterable[int]) -> int:
        ids = [(int(i),) for i in msg_ids]
        if not ids:
            return 0
        with self._lock:
            before = self._db.total_changes
            # A delete lost in a power cut only makes the device resend what the hub already has
            # (the hub deduplicates), so deletes skip the fsync that adds must have.
            self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                self._write("DELETE FROM outbox WHERE msg_id = ?", ids)
            finally:
                self._db.execute(f"PRAGMA synchronous={self._synchronous}")
            return self._db.total_changes - before

    def raise_ids_above(self, floor: int) -> None:
        """New records get ids above `floor` (the hub holds records up to it: this outbox was restored or
        replaced and handed out old ids again)."""
        with self._lock:
            self._write("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'outbox'", [(floor,)])
            self._write("INSERT INTO sqlite_sequence (name, seq) SELECT 'outbox', ? WHERE NOT EXISTS"
                        " (SELECT 1 FROM sqlite_sequence WHERE name = 'outbox')", [(floor,)])

    def depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def oldest_created_ms(self) -> int | None:
        """When the oldest record still waiting was committed (None when the outbox is empty)."""
        with self._lock:
            row = self._db.execute("SELECT created_ms FROM outbox ORDER BY msg_id LIMIT 1").fetchone()
        return None if row is None else int(row[0])

    def next_counter(self) -> int:
        """A counter never handed out before, from this or any earlier process on this outbox."""
        with self._lock:
            if self._next_counter >= self._reserved:
                self._reserved = self._next_counter + COUNTER_BLOCK
                self._write("INSERT INTO meta(k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
                            [("counter_reserved", self._reserved)])
            value = self._next_counter
            self._next_counter += 1
            return value

    def bump(self, key: str) -> int:
        """Increment and persist a small counter (e.g. the MQTT birth/death sequence); returns the new value."""
        with self._lock:
            value = self._meta(key, -1) + 1
            self._write("INSERT INTO meta(k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
                        [(key, value)])
            return value

    def close(self) -> None:
        with self._lock:
            self._db.close()
