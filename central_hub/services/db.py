"""The services' tables, on the store's two dialects (SQLite, PostgreSQL).

On SQLite the services live in their own file (``<state>/services.db``) so that a request never
waits for the record path's write lock or its fsync; on PostgreSQL they share the hub's
database (row locks, no global write lock). Personal data is sealed with the hub data key
(AES-256-GCM, row identity as AAD), like record bodies.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from central_hub.store import SQLITE_PREFIX, Store, open_store
from central_hub.store.schema import POSTGRES_TYPES, SQLITE_TYPES

SERVICES_DB_FILE = "services.db"

DDL = """
CREATE TABLE IF NOT EXISTS svc_rpc_epochs (
    device_id TEXT PRIMARY KEY, epoch TEXT NOT NULL, high BIGINT NOT NULL, bitmap {blob} NOT NULL, first_ms BIGINT,
    prev_epoch TEXT, prev_high BIGINT, prev_bitmap {blob}, floor_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS svc_rpc_downlink (device_id TEXT PRIMARY KEY, reserved BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS svc_idempotency (
    device_id TEXT NOT NULL, idem_key TEXT NOT NULL, method TEXT NOT NULL, args_mac TEXT NOT NULL,
    key_id INTEGER NOT NULL, nonce {blob} NOT NULL, answer {blob} NOT NULL, created_ms BIGINT NOT NULL,
    PRIMARY KEY (device_id, idem_key)
);
CREATE TABLE IF NOT EXISTS svc_patients (
    patient_id TEXT PRIMARY KEY, id_index TEXT NOT NULL UNIQUE, outpatient_no TEXT NOT NULL UNIQUE,
    medical_card_no TEXT UNIQUE, key_id INTEGER NOT NULL, nonce {blob} NOT NULL, body {blob} NOT NULL,
    created_ms BIGINT NOT NULL, county_index TEXT
);
CREATE TABLE IF NOT EXISTS svc_pregnancy_records (
    record_id TEXT PRIMARY KEY, patient_id TEXT NOT NULL, screen_positive INTEGER NOT NULL,
    key_id INTEGER NOT NULL, nonce {blob} NOT NULL, body {blob} NOT NULL, created_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS svc_card_bindings (
    binding_id TEXT PRIMARY KEY, patient_id TEXT NOT NULL, card_token TEXT NOT NULL, masked_pan TEXT NOT NULL,
    bound_ms BIGINT NOT NULL, unbound_ms BIGINT
);
CREATE TABLE IF NOT EXISTS svc_slots (
    slot_id TEXT PRIMARY KEY, visit_code TEXT NOT NULL, clinic TEXT NOT NULL, starts_ms BIGINT NOT NULL,
    fee_fen BIGINT NOT NULL, capacity INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS svc_slots_visit ON svc_slots (visit_code, starts_ms);
CREATE TABLE IF NOT EXISTS svc_bookings (
    booking_id TEXT PRIMARY KEY, patient_id TEXT NOT NULL, slot_id TEXT NOT NULL, status TEXT NOT NULL,
    hold_until_ms BIGINT NOT NULL, fee_fen BIGINT NOT NULL, created_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS svc_bookings_slot ON svc_bookings (slot_id, status);
CREATE TABLE IF NOT EXISTS svc_payments (
    payment_id TEXT PRIMARY KEY, booking_id TEXT NOT NULL, amount_fen BIGINT NOT NULL, masked_pan TEXT NOT NULL,
    stan TEXT NOT NULL, terminal_id TEXT NOT NULL, sent_ms BIGINT NOT NULL, outcome TEXT NOT NULL, response_code TEXT, auth_code TEXT, reason TEXT NOT NULL,
    created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS svc_counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS svc_registrations (
    device_id TEXT NOT NULL, msg_id BIGINT NOT NULL, idem_key TEXT NOT NULL, status TEXT NOT NULL,
    patient_id TEXT, record_id TEXT, detail TEXT NOT NULL, fed_msg_id BIGINT, made_ms BIGINT,
    key_id INTEGER NOT NULL, nonce {blob} NOT NULL, body {blob} NOT NULL, created_ms BIGINT NOT NULL,
    PRIMARY KEY (device_id, msg_id)
);
CREATE INDEX IF NOT EXISTS svc_registrations_key ON svc_registrations (device_id, idem_key);
CREATE INDEX IF NOT EXISTS svc_registrations_status ON svc_registrations (status);
"""
# (table, column, type): columns a services database made by an earlier version lacks
ADDED_COLUMNS = (("svc_patients", "county_index", "TEXT"),)
# the request replay windows before svc_rpc_epochs: one row per (device, epoch), never pruned
OLD_WINDOWS = "svc_rpc_windows"
# an epoch no request carries (epochs are hex): the current epoch of a device's row before its first request
NO_EPOCH = "-"


def services_db_url(db_url: str, state_dir: Path) -> str:
    return f"{SQLITE_PREFIX}{Path(state_dir) / SERVICES_DB_FILE}" if db_url.startswith(SQLITE_PREFIX) else db_url


class ServicesDb:
    """A thin layer over the store's connection: transactions, queries, row locks."""

    def __init__(self, url: str) -> None:
        self.store: Store = open_store(url)
        self.sqlite = url.startswith(SQLITE_PREFIX)
        types = SQLITE_TYPES if url.startswith(SQLITE_PREFIX) else POSTGRES_TYPES
        with self.write():
            for statement in (s.strip() for s in DDL.format(**types).split(";")):
                if statement:
                    self.execute(statement)
            for table, column, type_name in ADDED_COLUMNS:
                names = {d[0] for d in self.execute(f"SELECT * FROM {table} LIMIT 0").description}
                if column not in names:
                    self.execute(f"ALTER TABLE {table} ADD COLUMN {column} {type_name}")
            self._drop_old_windows()

    def _drop_old_windows(self) -> None:
        """Replace the unbounded per-(device, epoch) windows by one row per device. Which epoch was
        current is not known, so every request sealed before now is refused as stale from here on
        (a request in flight over the upgrade is not answered; the kiosk's retry is)."""
        exists = ("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?" if self.sqlite else
                  "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?")
        if self.execute(exists, (OLD_WINDOWS,)).fetchone() is None:
            return  # a database made by this version
        rows = self.execute(f"SELECT device_id FROM {OLD_WINDOWS}").fetchall()
        now_ms = int(time.time() * 1000)
        for device_id in sorted({str(r[0]).split("/")[0] for r in rows}):
            self.execute("INSERT INTO svc_rpc_epochs (device_id, epoch, high, bitmap, floor_ms) VALUES (?, ?, ?, ?, ?)"
                         " ON CONFLICT (device_id) DO NOTHING", (device_id, NO_EPOCH, -1, b"", now_ms))
        self.execute(f"DROP TABLE {OLD_WINDOWS}")

    @property
    def lock_suffix(self) -> str:
        """`` FOR UPDATE`` on PostgreSQL (SQLite's write transaction already excludes other writers)."""
        return self.store.lock_suffix

    @contextmanager
    def write(self) -> Iterator[None]:
        """One write transaction; errors come out as StoreError / StoreUnavailable."""
        with self.store._write():
            yield

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.store.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.store._read(sql, params)

    def next_number(self, name: str) -> int:
        """A per-name sequence (outpatient numbers, trace numbers), inside the caller's transaction."""
        row = self.execute("INSERT INTO svc_counters (name, value) VALUES (?, 1) ON CONFLICT (name)"
                           " DO UPDATE SET value = svc_counters.value + 1 RETURNING value", (name,)).fetchone()
        return int(row[0])

    def close(self) -> None:
        self.store.close()
