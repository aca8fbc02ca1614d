"""The store: one implementation over a DB-API connection, two dialects (SQLite, PostgreSQL).

All SQL is written once with ``?`` placeholders; the dialect supplies the connection, the
placeholder style, how a write transaction begins, row locking and error mapping.
A `Txn` is the handler's state interface for one batch: replay windows and fleet rows are
loaded once per batch (locked on PostgreSQL, in device-id order so concurrent workers cannot
deadlock), records are inserted as they come (so later messages of the batch see them), and
everything else is written at commit.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from central_hub import fleet as fleet_state  # fleet imports store.model: use it at call time only
from central_hub.errors import StoreError
from central_hub.replay import WINDOW_SIZE, ReplayWindow
from central_hub.store import quarantine
from central_hub.store.model import (
    FLEET_COLUMNS,
    RECORD_COLUMNS,
    FleetEvent,
    FleetRow,
    HubFault,
    QuarantineItem,
    QuarantineRow,
    RecordTuple,
)
from central_hub.store.schema import ADDED_COLUMNS

_INSERT_RECORD = (f"INSERT INTO records ({', '.join(RECORD_COLUMNS)}) VALUES ({', '.join('?' * len(RECORD_COLUMNS))})"
                  " ON CONFLICT (device_id, msg_id) DO NOTHING")
_UPSERT_FLEET = (f"INSERT INTO fleet ({', '.join(FLEET_COLUMNS)}) VALUES ({', '.join('?' * len(FLEET_COLUMNS))})"
                 " ON CONFLICT (device_id) DO UPDATE SET "
                 + ", ".join(f"{c} = excluded.{c}" for c in FLEET_COLUMNS[1:]))
_UPSERT_WINDOW = ("INSERT INTO windows (device_id, high, bitmap, epoch) VALUES (?, ?, ?, ?)"
                  " ON CONFLICT (device_id) DO UPDATE SET high = excluded.high, bitmap = excluded.bitmap,"
                  " epoch = excluded.epoch")
_RETIRE_EPOCH = ("INSERT INTO device_epochs (device_id, epoch, retired_at_ms) VALUES (?, ?, ?)"
                 " ON CONFLICT (device_id, epoch) DO NOTHING")
_UPSERT_QUARANTINE = (
    "INSERT INTO quarantine (fingerprint, reason, detail, topic, device_id, msg_id, first_at_ms, last_at_ms, seen,"
    " key_id, nonce, payload, schema_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)"
    " ON CONFLICT (fingerprint) DO UPDATE SET seen = quarantine.seen + 1, last_at_ms = excluded.last_at_ms")
_INSERT_ENVELOPE = ("INSERT INTO envelopes (device_id, counter, digest, received_at_ms) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (device_id, counter) DO NOTHING")
_RESERVE_DOWNLINK = ("INSERT INTO downlink (device_id, reserved) VALUES (?, ?) ON CONFLICT (device_id)"
                     " DO UPDATE SET reserved = downlink.reserved + excluded.reserved RETURNING reserved")
_INSERT_FLEET_EVENT = "INSERT INTO fleet_events (device_id, at_ms, event, detail) VALUES (?, ?, ?, ?)"
# a result for a command of another device, or for one already answered or timed out, changes nothing
_COMMAND_RESULT = ("UPDATE commands SET state = ?, done_ms = ?, result = ? WHERE id = ? AND device_id = ?"
                   " AND state = 'sent'")
_UPSERT_HUB_FAULT = ("INSERT INTO hub_faults (source, subject, detail, since_ms) VALUES (?, ?, ?, ?)"
                     " ON CONFLICT (source, subject) DO UPDATE SET detail = excluded.detail")
FIRST_DOWNLINK_COUNTER = 1


class Store:
    """Base class; use `central_hub.store.open_store(url)`. One connection, guarded by a lock."""

    url: str
    placeholder = "?"
    begin_sql = "BEGIN"
    lock_suffix = ""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.quarantine_quota = quarantine.QuarantineQuota()
        self.quarantine_paused = False  # set while the disk is low: new quarantine items are only counted

    # -- dialect hooks --------------------------------------------------------------------
    def _conn(self) -> Any:
        raise StoreError("abstract store")

    def _map_error(self, exc: Exception) -> StoreError:
        raise StoreError(str(exc))

    def _is_db_error(self, exc: Exception) -> bool:
        return False

    def _ddl(self) -> list[str]:
        return []

    def _insert_records(self, rows: list[RecordTuple]) -> None:
        """Insert, ignoring (device, msg id) already stored. A dialect may do it faster (COPY)."""
        self.executemany(_INSERT_RECORD, rows)

    def close(self) -> None:
        """Close the connection."""

    # -- plumbing -------------------------------------------------------------------------
    def sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def execute(self, text: str, params: Sequence[Any] = ()) -> Any:
        return self._conn().execute(self.sql(text), params)

    def executemany(self, text: str, rows: Iterable[Sequence[Any]]) -> None:
        conn = self._conn()
        if hasattr(conn, "executemany"):
            conn.executemany(self.sql(text), rows)
        else:
            with conn.cursor() as cur:
                cur.executemany(self.sql(text), rows)

    @contextmanager
    def _write(self) -> Iterator[None]:
        """A write transaction: BEGIN ... COMMIT, ROLLBACK on any error; errors mapped to StoreError."""
        with self._lock:
            try:
                self.execute(self.begin_sql)
                try:
                    yield
                    self.execute("COMMIT")
                except BaseException:
                    self._rollback_quietly()
                    raise
            except Exception as exc:
                if self._is_db_error(exc):
                    raise self._map_error(exc) from exc
                raise

    def _rollback_quietly(self) -> None:
        try:
            self.execute("ROLLBACK")
        except Exception:  # the connection may be gone; the next use reconnects
            return

    def _read(self, text: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return list(self.execute(text, params).fetchall())
            except Exception as exc:
                if self._is_db_error(exc):
                    raise self._map_error(exc) from exc
                raise

    def migrate(self) -> None:
        with self._write():
            for statement in self._ddl():
                self.execute(statement)
            self._add_columns()
            self.execute("INSERT INTO hub_meta (k, v) VALUES ('schema_version', '1') ON CONFLICT (k) DO NOTHING")

    def _add_columns(self) -> None:
        """Columns a database made by an earlier version lacks (inside the migration transaction)."""
        for table, column, type_name in ADDED_COLUMNS:
            names = {d[0] for d in self.execute(f"SELECT * FROM {table} LIMIT 0").description}
            if column not in names:
                self.execute(f"ALTER TABLE {table} ADD COLUMN {column} {type_name}")

    @contextmanager
    def write(self) -> Iterator[None]:
        """A write transaction for other modules of the hub (audit, users, commands)."""
        with self._write():
            yield

    def read(self, text: str, params: Sequence[Any] = ()) -> list[Any]:
        """Rows of one query, errors mapped to StoreError."""
        return self._read(text, params)

    # -- ingest ---------------------------------------------------------------------------
    @contextmanager
    def transaction(self, device_ids: Iterable[str]) -> Iterator[Txn]:
        """One batch. Commits when the block ends; rolls back (and raises StoreError) on failure."""
        with self._write():
            txn = Txn(self, sorted(set(device_ids)))
            yield txn
            try:
                txn.flush()
            except Exception as exc:
                if isinstance(exc, StoreError) or self._is_db_error(exc):
                    raise
                # Not the database's own error but a value it cannot take (OverflowError for an integer
                # past 64 bits, a type the driver cannot adapt...): this data is refused, the store is fine,
                # so the ingestor splits the batch and quarantines the one message that fails alone.
                raise StoreError(f"the store refused a value: {exc.__class__.__name__}: {exc}") from exc

    def reserve_downlink(self, device_id: str, count: int) -> int:
        """Reserve `count` downlink counters, durably, before any is used; returns the first."""
        with self._write():
            row = self.execute(_RESERVE_DOWNLINK, (device_id, count)).fetchone()
        end = int(row[0]) + FIRST_DOWNLINK_COUNTER
        return end - count

    # -- operator queries -----------------------------------------------------------------
    def fleet_rows(self) -> list[FleetRow]:
        rows = self._read(f"SELECT {', '.join(FLEET_COLUMNS)} FROM fleet ORDER BY device_id")
        return [_fleet_row(r) for r in rows]

    def quarantine_rows(self, limit: int = 100, reason: str | None = None) -> list[QuarantineRow]:
        where, params = ("WHERE reason = ?", (reason, limit)) if reason else ("", (limit,))
        rows = self._read("SELECT id, reason, detail, topic, device_id, msg_id, first_at_ms, last_at_ms, seen"
                          f" FROM quarantine {where} ORDER BY id DESC LIMIT ?", params)
        return [QuarantineRow(*r) for r in rows]

    def quarantine_payload(self, item_id: int) -> tuple[str, int, bytes, bytes] | None:
        rows = self._read("SELECT fingerprint, key_id, nonce, payload FROM quarantine WHERE id = ?", (item_id,))
        return (rows[0][0], rows[0][1], bytes(rows[0][2]), bytes(rows[0][3])) if rows else None

    def quarantine_counts(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self._read(
            "SELECT reason, sum(seen) FROM quarantine GROUP BY reason ORDER BY reason")}

    def set_hub_faults(self, source: str, faults: Mapping[str, str], now_ms: int) -> None:
        """Replace what the hub reports under `source` (subject -> detail); a fault still present keeps its
        `since_ms`."""
        with self._write():
            known = {r[0] for r in self.execute("SELECT subject FROM hub_faults WHERE source = ?", (source,)).fetchall()}
            self.executemany("DELETE FROM hub_faults WHERE source = ? AND subject = ?",
                             [(source, s) for s in sorted(known - set(faults))])
            self.executemany(_UPSERT_HUB_FAULT, [(source, s, d, now_ms) for s, d in sorted(faults.items())])

    def hub_faults(self) -> list[HubFault]:
        """What the hub reports for the fleet view, with the devices over their quarantine quota."""
        faults = [HubFault(r[0], r[1], r[2], int(r[3])) for r in self._read(
            "SELECT source, subject, detail, since_ms FROM hub_faults ORDER BY source, subject")]
        return faults + quarantine.overflow_faults(self._read(
            "SELECT device_id, reason, dropped, dropped_bytes, first_at_ms FROM quarantine_overflow"
            " ORDER BY device_id, reason"))

    def prune_quarantine(self, now_ms: int) -> int:
        """Drop quarantine rows and overflow counts last seen more than the retention ago; returns rows dropped."""
        before = now_ms - quarantine.RETENTION_MS
        with self._write():
            dropped = self.execute("DELETE FROM quarantine WHERE last_at_ms < ?", (before,)).rowcount
            self.execute("DELETE FROM quarantine_overflow WHERE last_at_ms < ?", (before,))
        return int(dropped or 0)

    def record_count(self, device_id: str | None = None) -> int:
        if device_id is None:
            return int(self._read("SELECT count(*) FROM records")[0][0])
        return int(self._read("SELECT count(*) FROM records WHERE device_id = ?", (device_id,))[0][0])

    def record_ids(self, device_id: str) -> list[int]:
        return [int(r[0]) for r in self._read(
            "SELECT msg_id FROM records WHERE device_id = ? ORDER BY msg_id", (device_id,))]

    def sealed_records(self, device_id: str) -> list[tuple[int, str, int, bytes, bytes]]:
        """(msg_id, schema id, key id, nonce, sealed body) of a device's records, by msg id."""
        rows = self._read("SELECT msg_id, schema_id, key_id, nonce, body FROM records WHERE device_id = ?"
                          " ORDER BY msg_id", (device_id,))
        return [(int(r[0]), r[1], int(r[2]), bytes(r[3]), bytes(r[4])) for r in rows]

    def put_worker_stats(self, worker: str, updated_ms: int, stats: dict[str, Any]) -> None:
        with self._write():
            self.execute("INSERT INTO workers (worker, updated_ms, stats) VALUES (?, ?, ?) ON CONFLICT (worker)"
                         " DO UPDATE SET updated_ms = excluded.updated_ms, stats = excluded.stats",
                         (worker, updated_ms, json.dumps(stats, sort_keys=True)))

    def worker_stats(self) -> dict[str, tuple[int, dict[str, Any]]]:
        return {r[0]: (int(r[1]), json.loads(r[2])) for r in self._read(
            "SELECT worker, updated_ms, stats FROM workers ORDER BY worker")}


class Txn:
    """The handler's state interface for one batch (see module docstring)."""

    def __init__(self, store: Store, device_ids: list[str]) -> None:
        self._s = store
        self._windows: dict[str, ReplayWindow] = {}
        self._fleet: dict[str, FleetRow | None] = {}
        self._dirty_windows: set[str] = set()
        self._dirty_fleet: set[str] = set()
        self._envelopes: dict[tuple[str, int], tuple[bytes, int]] = {}
        self._quarantine: list[QuarantineItem] = []
        self._records: list[RecordTuple] = []
        self._staged: dict[str, dict[int, str]] = {}  # msg id -> content digest in self._records, per device
        self._retired: dict[tuple[str, bytes], int] = {}  # (device, epoch) -> when, written at commit
        self._forget_envelopes: set[str] = set()  # devices whose stored envelope digests are of an old epoch
        self._hub_faults: dict[tuple[str, str], tuple[str, int]] = {}  # (source, subject) -> (detail, at)
        self._max_stored: dict[str, int] = {}  # per device, highest msg id in the table when first asked
        self._quarantine_use: dict[str, tuple[int, int]] = {}  # per device: rows, bytes (with what is staged)
        self._overflow: list[QuarantineItem] = []  # over the quota: counted, not kept
        self._events: list[FleetEvent] = []  # device history, written at commit
        self._command_results: list[tuple[str, int, str, str, int]] = []  # device, id, status, detail, at
        if device_ids:
            self._preload(device_ids)

    def _preload(self, device_ids: list[str]) -> None:
        s = self._s
        marks = ", ".join("?" * len(device_ids))
        if s.lock_suffix:  # make the rows exist, then lock them in id order
            s.executemany("INSERT INTO windows (device_id, high, bitmap) VALUES (?, -1, ?)"
                          " ON CONFLICT (device_id) DO NOTHING", [(d, b"") for d in device_ids])
        rows = s.execute(f"SELECT device_id, high, bitmap, epoch FROM windows WHERE device_id IN ({marks})"
                         f" ORDER BY device_id{s.lock_suffix}", device_ids).fetchall()
        self._windows.update({r[0]: ReplayWindow.from_row(int(r[1]), bytes(r[2]), r[3]) for r in rows})
        rows = s.execute(f"SELECT {', '.join(FLEET_COLUMNS)} FROM fleet WHERE device_id IN ({marks})",
                         device_ids).fetchall()
        found = {r[0]: _fleet_row(r) for r in rows}
        for device_id in device_ids:
            self._fleet.setdefault(device_id, found.get(device_id))

    def window(self, device_id: str) -> ReplayWindow:
        if device_id not in self._windows:  # not preloaded (e.g. enrolled during this batch): lock it now
            self._preload([device_id])
            self._windows.setdefault(device_id, ReplayWindow())
        return self._windows[device_id]

    def put_window(self, device_id: str, window: ReplayWindow) -> None:
        self._windows[device_id] = window
        self._dirty_windows.add(device_id)

    def envelope_digest(self, device_id: str, counter: int) -> bytes | None:
        pending = self._envelopes.get((device_id, counter))
        if pending:
            return pending[0]
        row = self._s.execute("SELECT digest FROM envelopes WHERE device_id = ? AND counter = ?",
                              (device_id, counter)).fetchone()
        return bytes(row[0]) if row else None

    def add_envelope(self, device_id: str, counter: int, digest: bytes, received_at_ms: int) -> None:
        self._envelopes[(device_id, counter)] = (digest, received_at_ms)

    def epoch_retired(self, device_id: str, epoch: bytes) -> bool:
        if (device_id, epoch) in self._retired:
            return True
        return self._s.execute("SELECT 1 FROM device_epochs WHERE device_id = ? AND epoch = ?",
                               (device_id, epoch.hex())).fetchone() is not None

    def retire_epoch(self, device_id: str, epoch: bytes, at_ms: int) -> None:
        """The device started again under a new epoch: this one is over (its envelopes are replays now)."""
        self._retired[(device_id, epoch)] = at_ms
        self._forget_envelopes.add(device_id)
        for key in [k for k in self._envelopes if k[0] == device_id]:
            del self._envelopes[key]

    def stored_digests(self, device_id: str, msg_ids: Sequence[int]) -> dict[int, str | None]:
        """Content digests of stored records (None for a record stored before digests were kept)."""
        staged = self._staged.get(device_id, {})
        out: dict[int, str | None] = {i: staged[i] for i in msg_ids if i in staged}
        rest = [i for i in msg_ids if i not in out]
        if rest:
            rows = self._s.execute("SELECT msg_id, digest FROM records WHERE device_id = ? AND msg_id BETWEEN ? AND ?",
                                   (device_id, min(rest), max(rest))).fetchall()
            wanted = set(rest)
            out.update({int(r[0]): r[1] for r in rows if int(r[0]) in wanted})
        return out

    def highest_id(self, device_id: str) -> int:
        """The highest record id stored for the device, this batch included (-1: none)."""
        return max(self._highest_stored(device_id), max(self._staged.get(device_id, {}), default=-1))

    def hub_fault(self, source: str, subject: str, detail: str, at_ms: int) -> None:
        """Report a fact for the fleet view (written at commit; one that is already there keeps its since)."""
        self._hub_faults[(source, subject)] = (detail, at_ms)

    def stored_ids(self, device_id: str, msg_ids: Sequence[int]) -> set[int]:
        """Which of `msg_ids` are already stored (including earlier in this batch)."""
        if not msg_ids:
            return set()
        wanted = set(msg_ids)
        staged = self._staged.get(device_id, {}).keys() & wanted
        if min(msg_ids) > self._highest_stored(device_id):
            return staged  # the usual case: new records, no query per message
        rows = self._s.execute("SELECT msg_id FROM records WHERE device_id = ? AND msg_id BETWEEN ? AND ?",
                               (device_id, min(msg_ids), max(msg_ids))).fetchall()
        return ({int(r[0]) for r in rows} & wanted) | staged

    def _highest_stored(self, device_id: str) -> int:
        """Exact for this transaction: it holds the device's window row lock (PostgreSQL) or the write lock
        (SQLite), so no other worker stores records of this device until it commits."""
        if device_id not in self._max_stored:
            row = self._s.execute("SELECT max(msg_id) FROM records WHERE device_id = ?", (device_id,)).fetchone()
            self._max_stored[device_id] = -1 if row is None or row[0] is None else int(row[0])
        return self._max_stored[device_id]

    def add_records(self, rows: list[RecordTuple]) -> None:
        """Stage rows; all of a batch go in with one executemany at commit (ignoring (device, msg id)
        already stored)."""
        self._records.extend(rows)
        for row in rows:
            self._staged.setdefault(row[0], {})[row[1]] = row[9]

    def quarantine(self, item: QuarantineItem) -> bool:
        """Stage `item`; False (counted, not kept) if it would take its device past the quota."""
        bucket = item.device_id or quarantine.NO_DEVICE
        used = self._quarantine_use.get(bucket)
        if used is None:
            used = quarantine.use(self._s, item.device_id)
        size = len(item.payload)
        if (self._s.quarantine_paused or not self._s.quarantine_quota.admits(used, size)) and \
                not quarantine.kept_already(self._s, item.fingerprint):
            self._overflow.append(item)
            return False
        self._quarantine_use[bucket] = (used[0] + 1, used[1] + size)
        self._quarantine.append(item)
        return True

    def fleet(self, device_id: str) -> FleetRow | None:
        if device_id not in self._fleet:
            row = self._s.execute(f"SELECT {', '.join(FLEET_COLUMNS)} FROM fleet WHERE device_id = ?",
                                  (device_id,)).fetchone()
            self._fleet[device_id] = _fleet_row(row) if row else None
        return self._fleet[device_id]

    def put_fleet(self, row: FleetRow) -> None:
        self._events.extend(fleet_state.changes(self._fleet.get(row.device_id), row))
        if row.command_results:  # written to `commands` at commit; never carried into the next message
            self._command_results.extend((row.device_id, *r, row.last_seen_ms or 0) for r in row.command_results)
            row = replace(row, command_results=())
        self._fleet[row.device_id] = row
        self._dirty_fleet.add(row.device_id)

    def flush(self) -> None:
        s = self._s
        if self._records:
            s._insert_records(self._records)
        if self._dirty_windows:
            s.executemany(_UPSERT_WINDOW, [(d, self._windows[d].high, self._windows[d].to_bytes(),
                                            self._windows[d].epoch.hex()) for d in sorted(self._dirty_windows)])
        if self._retired:
            s.executemany(_RETIRE_EPOCH, [(d, e.hex(), at) for (d, e), at in sorted(self._retired.items())])
        for d in sorted(self._forget_envelopes):  # before this batch's envelopes of the new epoch go in
            s.execute("DELETE FROM envelopes WHERE device_id = ?", (d,))
        if self._hub_faults:
            s.executemany(_UPSERT_HUB_FAULT, [(src, subj, detail, at) for (src, subj), (detail, at)
                                              in sorted(self._hub_faults.items())])
        if self._envelopes:
            s.executemany(_INSERT_ENVELOPE, [(d, c, dg, at) for (d, c), (dg, at) in self._envelopes.items()])
            for d in sorted({d for d, _ in self._envelopes}):
                s.execute("DELETE FROM envelopes WHERE device_id = ? AND counter < ?",
                          (d, self.window(d).high - WINDOW_SIZE))
        if self._quarantine:
            s.executemany(_UPSERT_QUARANTINE, [
                (q.fingerprint, q.reason, q.detail, q.topic, q.device_id, q.msg_id, q.received_at_ms,
                 q.received_at_ms, q.key_id, q.nonce, q.payload, q.schema_id) for q in self._quarantine])
        if self._overflow:
            quarantine.count_overflow(s, self._overflow)
        rows = [self._fleet[d] for d in sorted(self._dirty_fleet)]
        if rows:
            s.executemany(_UPSERT_FLEET, [_fleet_params(r) for r in rows if r is not None])
        if self._events:
            s.executemany(_INSERT_FLEET_EVENT, [(e.device_id, e.at_ms, e.event, e.detail) for e in self._events])
        if self._command_results:
            s.executemany(_COMMAND_RESULT, [(status, at, detail, cid, device)
                                            for device, cid, status, detail, at in self._command_results])


def _fleet_row(r: Sequence[Any]) -> FleetRow:
    values = dict(zip(FLEET_COLUMNS, r, strict=True))
    values["online"] = bool(values["online"])
    return FleetRow(**values)


def _fleet_params(row: FleetRow) -> tuple[Any, ...]:
    return tuple(int(getattr(row, c)) if c == "online" else getattr(row, c) for c in FLEET_COLUMNS)
