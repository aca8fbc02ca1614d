"""The county feed's transactional outbox, in the hub's own database.

The hook into the store's commit path is a database trigger on ``records``: every row the
ingest transaction inserts with a schema the county needs gets its ``feed_outbox`` row in the
same statement, hence the same transaction (a rolled-back batch leaves neither; a record stored
once, exactly once in the store, is queued once). It needs no change to the ingest code, and any
producer writing ``records`` (device records, hospital services) is covered. The trigger exists
on SQLite and PostgreSQL alike; `migrate` (re)creates it when the list of fed schemas changes.

Row life: ``pending`` -> ``sent`` (the county accepted the Bundle) | ``dead`` (refused with a
4xx, or not valid FHIR: kept with the reason and the server's OperationOutcome; `requeue` makes
it pending again) | ``skipped`` (not the county's, e.g. an unidentified CTG episode).
The Bundle, once built, is kept sealed with the data key, so every retry sends the same bytes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from central_hub.errors import HubError
from central_hub.feed.mapping import FEED_SCHEMAS
from central_hub.store.base import Store

PENDING, SENT, DEAD, SKIPPED = "pending", "sent", "dead", "skipped"
VERSION_KEY = "feed_outbox_version"
_SCHEMAS_SQL = ", ".join(f"'{s}'" for s in sorted(FEED_SCHEMAS))
VERSION = f"1:{_SCHEMAS_SQL}"
_ADVISORY_LOCK = 7262015

_DDL = """
CREATE TABLE IF NOT EXISTS feed_outbox (
    id {autoid},
    device_id TEXT NOT NULL,
    msg_id BIGINT NOT NULL,
    schema_id TEXT NOT NULL,
    queued_at_ms BIGINT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    last_error TEXT,
    last_http_status INTEGER,
    outcome TEXT,
    note TEXT,
    resources INTEGER,
    sent_at_ms BIGINT,
    key_id INTEGER,
    nonce {blob},
    payload {blob},
    UNIQUE (device_id, msg_id)
);
CREATE INDEX IF NOT EXISTS feed_outbox_status ON feed_outbox (status, id);
CREATE TABLE IF NOT EXISTS feed_ctg_patients (
    device_id TEXT NOT NULL, episode_id BIGINT NOT NULL, patient_id TEXT NOT NULL,
    PRIMARY KEY (device_id, episode_id));
CREATE TABLE IF NOT EXISTS feed_meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)
"""
_TYPES = {"sqlite": {"autoid": "INTEGER PRIMARY KEY AUTOINCREMENT", "blob": "BLOB"},
          "postgresql": {"autoid": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "blob": "BYTEA"}}
_ENQUEUE_COLUMNS = "(device_id, msg_id, schema_id, queued_at_ms, status, attempts, next_attempt_ms)"
_ENQUEUE_VALUES = f"(NEW.device_id, NEW.msg_id, NEW.schema_id, NEW.received_at_ms, '{PENDING}', 0, 0)"
_SQLITE_TRIGGER = [
    "DROP TRIGGER IF EXISTS feed_outbox_enqueue",
    f"CREATE TRIGGER feed_outbox_enqueue AFTER INSERT ON records WHEN NEW.schema_id IN ({_SCHEMAS_SQL})"
    f" BEGIN INSERT INTO feed_outbox {_ENQUEUE_COLUMNS} VALUES {_ENQUEUE_VALUES}"
    " ON CONFLICT (device_id, msg_id) DO NOTHING; END"]
_PG_TRIGGER = [
    "CREATE OR REPLACE FUNCTION feed_outbox_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    f" INSERT INTO feed_outbox {_ENQUEUE_COLUMNS} VALUES {_ENQUEUE_VALUES}"
    " ON CONFLICT (device_id, msg_id) DO NOTHING; RETURN NULL; END $$",
    "DROP TRIGGER IF EXISTS feed_outbox_enqueue ON records",
    f"CREATE TRIGGER feed_outbox_enqueue AFTER INSERT ON records FOR EACH ROW"
    f" WHEN (NEW.schema_id IN ({_SCHEMAS_SQL})) EXECUTE FUNCTION feed_outbox_enqueue()"]


class FeedError(HubError):
    """A feed operation cannot be done (unknown row, bad argument)."""


def dialect(store: Store) -> str:
    return "sqlite" if store.url.startswith("sqlite") else "postgresql"


def migrate(store: Store) -> None:
    """Create the feed tables, and the trigger when it is missing or lists other schemas."""
    kind = dialect(store)
    with store._write():
        if kind == "postgresql":
            store.execute(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK})")
        for statement in (s.strip() for s in _DDL.format(**_TYPES[kind]).split(";")):
            if statement:
                store.execute(statement)
        row = store.execute("SELECT v FROM hub_meta WHERE k = ?", (VERSION_KEY,)).fetchone()
        if row is None or row[0] != VERSION:
            for statement in _SQLITE_TRIGGER if kind == "sqlite" else _PG_TRIGGER:
                store.execute(statement)
            store.execute("INSERT INTO hub_meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                          (VERSION_KEY, VERSION))


@dataclass(frozen=True)
class OutboxRow:
    id: int
    device_id: str
    msg_id: int
    schema_id: str
    queued_at_ms: int
    attempts: int
    next_attempt_ms: int
    sealed: tuple[int, bytes, bytes] | None  # (key id, nonce, sealed Bundle) once built
    record: tuple[int, bytes, bytes] | None = None  # the source record's (key id, nonce, sealed body)


@dataclass(frozen=True)
class Result:
    """What one attempt did to a row (written back in one transaction per step)."""

    row_id: int
    status: str
    attempts: int
    next_attempt_ms: int = 0
    error: str | None = None
    http_status: int | None = None
    outcome: str | None = None
    resources: int | None = None
    sent_at_ms: int | None = None
    sealed: tuple[int, bytes, bytes] | None = None


def head(store: Store, limit: int) -> list[OutboxRow]:
    """The oldest pending rows, in order (the sender sends in this order and stops at a failure),
    each with its source record's sealed body (None if the record is gone)."""
    rows = store._read("SELECT o.id, o.device_id, o.msg_id, o.schema_id, o.queued_at_ms, o.attempts,"
                       " o.next_attempt_ms, o.key_id, o.nonce, o.payload, r.key_id, r.nonce, r.body"
                       " FROM feed_outbox o LEFT JOIN records r ON r.device_id = o.device_id AND r.msg_id = o.msg_id"
                       f" WHERE o.status = '{PENDING}' ORDER BY o.id LIMIT ?", (limit,))
    return [OutboxRow(int(r[0]), r[1], int(r[2]), r[3], int(r[4]), int(r[5]), int(r[6]),
                      None if r[9] is None else (int(r[7]), bytes(r[8]), bytes(r[9])),
                      None if r[12] is None else (int(r[10]), bytes(r[11]), bytes(r[12]))) for r in rows]


def save(store: Store, results: Sequence[Result], ctg_patients: Sequence[tuple[str, int, str]] = (),
         meta: dict[str, str] | None = None) -> None:
    """Write back one step's results, the CTG episode -> patient links it learnt, and the feed state."""
    with store._write():
        for r in results:
            store.execute(
                "UPDATE feed_outbox SET status = ?, attempts = ?, next_attempt_ms = ?, last_error = ?,"
                " last_http_status = ?, outcome = ?, resources = COALESCE(?, resources), sent_at_ms = ?,"
                " key_id = COALESCE(?, key_id), nonce = COALESCE(?, nonce), payload = COALESCE(?, payload)"
                f" WHERE id = ? AND status = '{PENDING}'",
                (r.status, r.attempts, r.next_attempt_ms, r.error, r.http_status, r.outcome, r.resources,
                 r.sent_at_ms, *(r.sealed or (None, None, None)), r.row_id))
        if ctg_patients:
            store.executemany("INSERT INTO feed_ctg_patients (device_id, episode_id, patient_id) VALUES (?, ?, ?)"
                              " ON CONFLICT (device_id, episode_id) DO UPDATE SET patient_id = excluded.patient_id",
                              ctg_patients)
        for k, v in (meta or {}).items():
            store.execute("INSERT INTO feed_meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                          (k, v))


def ctg_patient(store: Store, device_id: str, episode_id: int) -> str | None:
    rows = store._read("SELECT patient_id FROM feed_ctg_patients WHERE device_id = ? AND episode_id = ?",
                       (device_id, episode_id))
    return str(rows[0][0]) if rows else None


def requeue(store: Store, ids: Sequence[int] | None, note: str) -> int:
    """Make dead rows pending again (all of them when `ids` is None); the Bundle is rebuilt. Returns how many."""
    if not note.strip():
        raise FeedError("a requeue needs a reason (it is kept with the row)")
    where, params = (f"status = '{DEAD}'", []) if ids is None else (
        f"status = '{DEAD}' AND id IN ({', '.join('?' * len(ids))})", list(ids))
    if ids is not None and not ids:
        return 0
    with store._write():
        cur = store.execute(f"UPDATE feed_outbox SET status = '{PENDING}', attempts = 0, next_attempt_ms = 0,"
                            f" key_id = NULL, nonce = NULL, payload = NULL, note = ? WHERE {where}",
                            [note.strip()[:400], *params])
        return int(cur.rowcount)


@dataclass(frozen=True)
class DeadLetter:
    id: int
    device_id: str
    msg_id: int
    schema_id: str
    queued_at_ms: int
    attempts: int
    http_status: int | None
    error: str | None
    outcome: dict[str, Any] | None  # the county's OperationOutcome, as it sent it


def dead_letters(store: Store, limit: int = 100) -> list[DeadLetter]:
    rows = store._read("SELECT id, device_id, msg_id, schema_id, queued_at_ms, attempts, last_http_status, last_error,"
                       f" outcome FROM feed_outbox WHERE status = '{DEAD}' ORDER BY id DESC LIMIT ?", (limit,))
    return [DeadLetter(int(r[0]), r[1], int(r[2]), r[3], int(r[4]), int(r[5]), r[6], r[7],
                       json.loads(r[8]) if r[8] else None) for r in rows]


def feed_status(store: Store, now_ms: int | None = None) -> dict[str, Any]:
    """For the dashboard and `mch-hub feed status`: queue depth, oldest pending, last success and
    error, dead letters. Times in ms since the epoch; ages in ms."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    counts = {str(r[0]): int(r[1]) for r in store._read("SELECT status, count(*) FROM feed_outbox GROUP BY status")}
    oldest = store._read(f"SELECT min(queued_at_ms) FROM feed_outbox WHERE status = '{PENDING}'")[0][0]
    meta = {str(r[0]): str(r[1]) for r in store._read("SELECT k, v FROM feed_meta")}
    return {
        "pending": counts.get(PENDING, 0), "sent": counts.get(SENT, 0), "dead": counts.get(DEAD, 0),
        "skipped": counts.get(SKIPPED, 0),
        "oldest_pending_ms": None if oldest is None else int(oldest),
        "oldest_pending_age_ms": None if oldest is None else max(0, now_ms - int(oldest)),
        "last_success_ms": int(meta["last_success_ms"]) if "last_success_ms" in meta else None,
        "last_error": meta.get("last_error"),
        "last_error_ms": int(meta["last_error_ms"]) if "last_error_ms" in meta else None,
        "next_attempt_ms": int(meta["next_attempt_ms"]) if "next_attempt_ms" in meta else None,
    }
