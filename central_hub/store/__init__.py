"""Hub storage: SQLite (WAL) by default, PostgreSQL by configuration, one code path.

``open_store("sqlite:///var/lib/hub/hub.db")`` or ``open_store("postgresql://user@host/db")``.
"""

from __future__ import annotations

from pathlib import Path

from central_hub.errors import HubConfigError
from central_hub.store.base import Store, Txn
from central_hub.store.model import FleetRow, QuarantineItem, QuarantineRow

SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")

__all__ = ["FleetRow", "QuarantineItem", "QuarantineRow", "Store", "Txn", "open_store"]


def open_store(url: str) -> Store:
    """Open (and create or migrate) the store named by `url`. Raises HubConfigError or StoreError."""
    if url.startswith(SQLITE_PREFIX):
        from central_hub.store.sqlite import SqliteStore

        path = url[len(SQLITE_PREFIX):]
        if not path:
            raise HubConfigError(f"database URL {url!r}: no file path after {SQLITE_PREFIX}")
        return _with_feed_outbox(SqliteStore(Path(path), url))  # as SQLAlchemy: sqlite:///relative, sqlite:////absolute
    if url.startswith(POSTGRES_PREFIXES):
        from central_hub.store.postgres import PostgresStore

        return _with_feed_outbox(PostgresStore(url))
    raise HubConfigError(f"database URL {url!r}: want sqlite:///<path> or postgresql://...")


def _with_feed_outbox(store: Store) -> Store:
    """The county feed's outbox rides on the commit of every record (a trigger: central_hub/feed/outbox.py)."""
    from central_hub.feed.outbox import migrate

    try:
        migrate(store)
    except BaseException:
        store.close()
        raise
    return store
