"""What the county keeps: every resource it accepted (current version), found by identifier."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_DDL = """
CREATE TABLE IF NOT EXISTS resources (
    type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL, updated_ms INTEGER NOT NULL,
    PRIMARY KEY (type, id));
CREATE TABLE IF NOT EXISTS identifiers (
    type TEXT NOT NULL, system TEXT NOT NULL, value TEXT NOT NULL, id TEXT NOT NULL,
    PRIMARY KEY (type, system, value, id));
CREATE INDEX IF NOT EXISTS identifiers_of_resource ON identifiers (type, id);
CREATE TABLE IF NOT EXISTS transactions (
    n INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, entries INTEGER NOT NULL,
    created INTEGER NOT NULL, matched INTEGER NOT NULL);
"""


class CountyStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # a test double: what it accepted must survive its own restart (WAL does that without fsync),
        # not a power cut; fsyncs on the shared disk would make the simulator the bench's bottleneck
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.executescript(_DDL)
        self.lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def find(self, rtype: str, system: str, value: str) -> list[str]:
        return [r[0] for r in self._db.execute(
            "SELECT id FROM identifiers WHERE type = ? AND system = ? AND value = ?", (rtype, system, value))]

    def version(self, rtype: str, rid: str) -> int:
        row = self._db.execute("SELECT version FROM resources WHERE type = ? AND id = ?", (rtype, rid)).fetchone()
        return int(row[0]) if row else 0

    def get(self, rtype: str, rid: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT body FROM resources WHERE type = ? AND id = ?", (rtype, rid)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, rtype: str, rid: str | None, resource: dict[str, Any]) -> tuple[str, int]:
        """Create (rid None) or replace; returns (id, version). Inside `transaction()`."""
        rid = rid or uuid.uuid4().hex
        version = self.version(rtype, rid) + 1
        body = {**resource, "id": rid, "meta": {"versionId": str(version)}}
        self._db.execute("INSERT INTO resources (type, id, version, body, updated_ms) VALUES (?, ?, ?, ?, ?)"
                         " ON CONFLICT (type, id) DO UPDATE SET version = excluded.version, body = excluded.body,"
                         " updated_ms = excluded.updated_ms",
                         (rtype, rid, version, json.dumps(body, ensure_ascii=False), int(time.time() * 1000)))
        self._db.execute("DELETE FROM identifiers WHERE type = ? AND id = ?", (rtype, rid))
        self._db.executemany("INSERT OR IGNORE INTO identifiers (type, system, value, id) VALUES (?, ?, ?, ?)",
                             [(rtype, i["system"], i["value"], rid) for i in resource.get("identifier", [])
                              if isinstance(i, dict) and "system" in i and "value" in i])
        return rid, version

    def log_transaction(self, entries: int, created: int, matched: int) -> None:
        self._db.execute("INSERT INTO transactions (at_ms, entries, created, matched) VALUES (?, ?, ?, ?)",
                         (int(time.time() * 1000), entries, created, matched))

    def search(self, rtype: str, system: str | None = None, value: str | None = None) -> list[dict[str, Any]]:
        if system is None:
            rows = self._db.execute("SELECT body FROM resources WHERE type = ? ORDER BY updated_ms", (rtype,))
        else:
            rows = self._db.execute("SELECT r.body FROM resources r JOIN identifiers i ON i.type = r.type AND"
                                    " i.id = r.id WHERE r.type = ? AND i.system = ? AND i.value = ?",
                                    (rtype, system, value))
        return [json.loads(r[0]) for r in rows]

    def counts(self) -> dict[str, Any]:
        with self.lock:
            types = dict(self._db.execute("SELECT type, count(*) FROM resources GROUP BY type").fetchall())
            tx = self._db.execute("SELECT count(*), coalesce(sum(entries), 0), coalesce(sum(created), 0),"
                                  " coalesce(sum(matched), 0) FROM transactions").fetchone()
        return {"resources": types, "transactions": tx[0], "entries": tx[1], "created": tx[2], "matched": tx[3]}

    def close(self) -> None:
        self._db.close()
