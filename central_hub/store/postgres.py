"""PostgreSQL back end (psycopg 3): the same SQL as SQLite, rows locked per batch in device-id order."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors as pg_errors

from central_hub.errors import StoreError, StoreUnavailable
from central_hub.store.base import Store
from central_hub.store.model import RECORD_COLUMNS, RecordTuple
from central_hub.store.schema import POSTGRES_TYPES, statements

CONNECT_TIMEOUT_S = 10
STATEMENT_TIMEOUT_MS = 30_000
_COLUMNS = ", ".join(RECORD_COLUMNS)
# Records go in by COPY into a per-connection staging table, then one INSERT ... SELECT with the
# same conflict rule as everywhere else (COPY itself cannot skip duplicates).
_STAGING_DDL = ("CREATE TEMP TABLE IF NOT EXISTS records_in (device_id TEXT, msg_id BIGINT, schema_id TEXT,"
                " made_at_ms BIGINT, sealed_at_ms BIGINT, received_at_ms BIGINT, key_id INTEGER, nonce BYTEA,"
                " body BYTEA, digest TEXT) ON COMMIT DELETE ROWS")
_COPY_IN = f"COPY records_in ({_COLUMNS}) FROM STDIN"
_FROM_STAGING = (f"INSERT INTO records ({_COLUMNS}) SELECT {_COLUMNS} FROM records_in"
                 " ON CONFLICT (device_id, msg_id) DO NOTHING")
_RETRYABLE = (psycopg.OperationalError, pg_errors.DeadlockDetected, pg_errors.SerializationFailure,
              pg_errors.LockNotAvailable, pg_errors.QueryCanceled)


class PostgresStore(Store):
    placeholder = "%s"
    lock_suffix = " FOR UPDATE"

    def __init__(self, dsn: str) -> None:
        super().__init__()
        self.url = dsn
        self._db: psycopg.Connection[Any] | None = None
        self._connect()
        self.migrate()

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            self._db = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
            self._db.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
            self._db.execute(_STAGING_DDL)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"postgresql: cannot connect ({exc.__class__.__name__}: {exc})") from None
        return self._db

    def _conn(self) -> Any:
        if self._db is None or self._db.closed or self._db.broken:
            return self._connect()
        return self._db

    def _insert_records(self, rows: list[RecordTuple]) -> None:
        with self._conn().cursor() as cur:
            with cur.copy(_COPY_IN) as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(_FROM_STAGING)

    def _ddl(self) -> list[str]:
        return statements(POSTGRES_TYPES)

    def _is_db_error(self, exc: Exception) -> bool:
        return isinstance(exc, psycopg.Error)

    def _map_error(self, exc: Exception) -> StoreError:
        text = f"postgresql: {exc.__class__.__name__}: {exc}".strip()
        if isinstance(exc, _RETRYABLE):
            return StoreUnavailable(text)
        return StoreError(text)

    def migrate(self) -> None:
        # concurrent first starts of several workers: serialise the DDL on an advisory lock
        with self._write():
            self.execute("SELECT pg_advisory_xact_lock(7262001)")
            for statement in self._ddl():
                self.execute(statement)
            self._add_columns()
            self.execute("INSERT INTO hub_meta (k, v) VALUES ('schema_version', '1') ON CONFLICT (k) DO NOTHING")

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
