"""Fixtures: the central hub.

- `hub_db_url` (parametrized: sqlite, postgresql; the postgresql case is marked `integration`)
  -> a fresh, empty hub database URL. On PostgreSQL each test gets its own schema in the
  session's throwaway database (`pg_dsn`).
- `hub_pg_url` -> the same on PostgreSQL only.
- `hub_factory(site_dir, db_url=None, hub_id="hub", share_group=None, broker=None) -> HubProcess`
  (central_hub.launcher, the supervisor `make run` and the benches use too): a
  running `mch-hub run` subprocess, subscribed when returned (hubs of one test share a state
  directory, hence one data key; the default database is SQLite in it); `.stop()` (SIGTERM),
  `.kill()` (SIGKILL), `.restart()`, `.log_text()`, `.store()` (open its database).
  Every hub started is stopped at teardown. Given a whole site directory, the hub runs on its
  view `<site>/deploy/<hub_id>` (the hub refuses the whole site, as a real deployment must).
- `hub_site(site_dir, hub_id="hub") -> Path`: that view (or `site_dir` when it already is one),
  for tests that run other `mch-hub` subcommands.
- `count_records(db_url, device_id=None) -> int`, `wait_for_records(db_url, n, timeout_s)`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from central_hub.launcher import HubProcess
from central_hub.store import open_store
from mch_link.sitefiles import ca_keys_in, hub_view

DROP_LOCK_TIMEOUT_S = 10


@contextmanager
def pg_schema_url(pg_dsn: str) -> Iterator[str]:
    """A URL of the session database whose search_path is a fresh schema, dropped afterwards."""
    schema = f"hub_{secrets.token_hex(4)}"
    with psycopg.connect(pg_dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        sep = "&" if "?" in pg_dsn else "?"
        yield f"{pg_dsn}{sep}options={quote(f'-c search_path={schema}')}"
    finally:
        with psycopg.connect(pg_dsn, autocommit=True, connect_timeout=5) as conn:
            # A hub still holding locks here is a fixture-order bug: fail loudly, never wait forever.
            conn.execute(f"SET lock_timeout = '{DROP_LOCK_TIMEOUT_S}s'")
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


class StartedHubs:
    """Every hub a test started. A database fixture depends on it and stops the hubs that use its
    database before dropping it, so teardown order never depends on argument order (a PostgreSQL
    ``DROP SCHEMA ... CASCADE`` under a running hub deadlocks)."""

    def __init__(self) -> None:
        self.hubs: list[HubProcess] = []

    def stop(self, db_url: str | None = None) -> None:
        for hub in self.hubs:
            if db_url is None or hub.db_url == db_url:
                hub.stop()


@pytest.fixture
def started_hubs() -> Iterator[StartedHubs]:
    hubs = StartedHubs()
    yield hubs
    hubs.stop()


@contextmanager
def _schema_for_hubs(pg_dsn: str, hubs: StartedHubs) -> Iterator[str]:
    with pg_schema_url(pg_dsn) as url:
        try:
            yield url
        finally:
            hubs.stop(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def hub_db_url(request: pytest.FixtureRequest, tmp_path: Path, started_hubs: StartedHubs) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.db'}"
        yield url
        started_hubs.stop(url)
        return
    with _schema_for_hubs(request.getfixturevalue("pg_dsn"), started_hubs) as url:
        yield url


@pytest.fixture
def hub_pg_url(pg_dsn: str, started_hubs: StartedHubs) -> Iterator[str]:
    """A fresh hub database URL on PostgreSQL only."""
    with _schema_for_hubs(pg_dsn, started_hubs) as url:
        yield url


def count_records(db_url: str, device_id: str | None = None) -> int:
    store = open_store(db_url)
    try:
        return store.record_count(device_id)
    finally:
        store.close()


def wait_for_records(db_url: str, n: int, timeout_s: float, device_id: str | None = None) -> int:
    """Poll until at least `n` records are stored (or the timeout); returns the last count."""
    deadline = time.monotonic() + timeout_s
    count = count_records(db_url, device_id)
    while count < n and time.monotonic() < deadline:
        time.sleep(0.1)
        count = count_records(db_url, device_id)
    return count


HubFactory = Callable[..., HubProcess]


def hub_site(site_dir: Path, hub_id: str = "hub") -> Path:
    """The directory a hub is given: the site's deploy view for `hub_id` (kept current by every
    site change), or `site_dir` itself when it already is a view."""
    return hub_view(site_dir, hub_id) if ca_keys_in(site_dir) else Path(site_dir)


@pytest.fixture
def hub_factory(tmp_path: Path, started_hubs: StartedHubs) -> Iterator[HubFactory]:
    def make(site_dir: Path, db_url: str | None = None, hub_id: str = "hub", share_group: str | None = None,
             extra_args: tuple[str, ...] = (), start: bool = True, state_dir: Path | None = None,
             broker: Any = None) -> HubProcess:
        """Hubs of one test share a state directory (so one data key) unless told otherwise.
        `broker`: anything with .host and .port (the `broker` fixture), instead of site.json's."""
        state = state_dir or tmp_path / "hub-state"
        if broker is not None:
            extra_args = ("--broker", f"{broker.host}:{broker.port}", *extra_args)
        url = db_url or f"sqlite:///{state / 'hub.db'}"
        hub = HubProcess(hub_site(Path(site_dir), hub_id), url, state, hub_id, share_group, extra_args,
                         log_path=state / f"{hub_id}-{len(started_hubs.hubs)}.log")
        started_hubs.hubs.append(hub)
        return hub.start() if start else hub

    yield make
    started_hubs.stop()
