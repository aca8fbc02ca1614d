"""SQLite back end: WAL, synchronous=FULL (an acknowledged record survives a power cut)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from central_hub.errors import StoreError, StoreUnavailable
from central_hub.store.base import Store
from central_hub.store.schema import SQLITE_TYPES, statements

BUSY_TIMEOUT_S = 10.0  # another process (CLI, second worker) holding the write lock


class SqliteStore(Store):
    begin_sql = "BEGIN IMMEDIATE"

    def __init__(self, path: Path, url: str | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.url = url or f"sqlite:///{self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"sqlite {self.path}: cannot open ({exc})") from None
        self.migrate()

    def _conn(self) -> Any:
        return self._db

    def _ddl(self) -> list[str]:
        return statements(SQLITE_TYPES)

    def _is_db_error(self, exc: Exception) -> bool:
        return isinstance(exc, sqlite3.Error)

    def _map_error(self, exc: Exception) -> StoreError:
        text = f"sqlite {self.path}: {exc.__class__.__name__}: {exc}"
        if isinstance(exc, sqlite3.OperationalError):  # locked, busy, disk I/O, disk full
            return StoreUnavailable(text)
        return StoreError(text)

    def close(self) -> None:
        with self._lock:
            self._db.close()
