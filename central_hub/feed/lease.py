"""One feed sender per hub database: the sender holds an exclusive lock for as long as it runs.

Two senders would not create anything twice at the county (conditional create/update), but they
would break the commit order and double the load. The lock dies with its holder, so a restarted
sender takes over at once: on SQLite an flock on ``<database>.feed-sender.lock``, on PostgreSQL a
session advisory lock on a connection of its own.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

import psycopg

from central_hub.errors import StoreUnavailable
from central_hub.store import SQLITE_PREFIX

_ADVISORY_KEY = 7262016


class SenderLease:
    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self._held: Any = None

    @property
    def where(self) -> str:
        if self.db_url.startswith(SQLITE_PREFIX):
            return f"{self.db_url[len(SQLITE_PREFIX):]}.feed-sender.lock"
        return f"PostgreSQL advisory lock ({_ADVISORY_KEY}, this schema)"

    def try_acquire(self) -> bool:
        """True when this process is now the site's sender (or already was)."""
        if self._held is not None:
            return True
        if self.db_url.startswith(SQLITE_PREFIX):
            fd = os.open(Path(self.where), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._held = fd
            return True
        try:
            conn = psycopg.connect(self.db_url, autocommit=True, connect_timeout=10)
            # one lock per schema: several hub databases may share one PostgreSQL database
            row = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(current_schema()))",
                               (_ADVISORY_KEY,)).fetchone()
        except psycopg.Error as exc:
            raise StoreUnavailable(f"postgresql: cannot take the feed sender lock: {exc}") from None
        if not (row and row[0]):
            conn.close()
            return False
        self._held = conn
        return True

    def release(self) -> None:
        if self._held is None:
            return
        if isinstance(self._held, int):
            os.close(self._held)  # closing the descriptor drops the flock
        else:
            self._held.close()  # ending the session drops the advisory lock
        self._held = None
