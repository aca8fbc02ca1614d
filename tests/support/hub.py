"""Fixtures: the central hub.

- `hub_db_url` (parametrized: sqlite, postgresql; the postgresql case is marked `integration`)
  -> a fresh, empty hub database URL. On PostgreSQL each test gets its own schema in the
  session's throwaway database (`pg_dsn`).
- `hub_pg_url` -> the same on PostgreSQL only.
- `hub_factory(site_dir, db_url=None, hub_id="hub", share_group=None, broker=None) -> HubProcess`: a
  running `mch-hub run` subprocess, subscribed when returned (hubs of one test share a state
  directory, hence one data key; the default database is SQLite in it); `.stop()` (SIGTERM),
  `.kill()` (SIGKILL), `.restart()`, `.log_text()`, `.store()` (open its database).
  Every hub started is stopped at teardown.
- `count_records(db_url, device_id=None) -> int`, `wait_for_records(db_url, n, timeout_s)`.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from central_hub.store import Store, open_store
from tests.support.processes import terminate

READY_LINE = "mch-hub: subscribed"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
POLL_S = 0.05


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
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def hub_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
        return
    with pg_schema_url(request.getfixturevalue("pg_dsn")) as url:
        yield url


@pytest.fixture
def hub_pg_url(pg_dsn: str) -> Iterator[str]:
    """A fresh hub database URL on PostgreSQL only."""
    with pg_schema_url(pg_dsn) as url:
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


class HubProcess:
    """`mch-hub run` in a subprocess; output goes to a log file next to its state directory."""

    def __init__(self, site_dir: Path, db_url: str, state_dir: Path, hub_id: str = "hub",
                 share_group: str | None = None, extra_args: tuple[str, ...] = (), log_path: Path | None = None) -> None:
        self.site_dir, self.db_url, self.state_dir = Path(site_dir), db_url, Path(state_dir)
        self.hub_id, self.share_group, self.extra_args = hub_id, share_group, extra_args
        self.log_path = log_path or self.state_dir / f"{hub_id}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def argv(self) -> list[str]:
        args = [sys.executable, "-m", "central_hub.cli", "run", "--site", str(self.site_dir), "--db", self.db_url,
                "--state-dir", str(self.state_dir), "--hub-id", self.hub_id, "--log-level", "INFO"]
        if self.share_group:
            args += ["--share-group", self.share_group]
        return args + list(self.extra_args)

    def start(self, timeout_s: float = START_TIMEOUT_S) -> HubProcess:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        try:
            self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
        finally:
            log.close()
        self.starts += 1
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if READY_LINE in self.log_text()[offset:]:
                return self
            if self.proc.poll() is not None:
                raise AssertionError(f"mch-hub exited with {self.proc.returncode}:\n{self.log_text()[offset:]}")
            time.sleep(POLL_S)
        self.kill()
        raise AssertionError(f"mch-hub not subscribed within {timeout_s} s:\n{self.log_text()[offset:]}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM and wait (SIGKILL if it does not exit in time); returns the exit code."""
        return None if self.proc is None else terminate(self.proc, timeout_s)

    def kill(self) -> None:
        """SIGKILL: no chance to finish a batch or to say goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)

    def restart(self) -> HubProcess:
        self.stop()
        return self.start()

    def store(self) -> Store:
        return open_store(self.db_url)


HubFactory = Callable[..., HubProcess]


@pytest.fixture
def hub_factory(tmp_path: Path) -> Iterator[HubFactory]:
    started: list[HubProcess] = []

    def make(site_dir: Path, db_url: str | None = None, hub_id: str = "hub", share_group: str | None = None,
             extra_args: tuple[str, ...] = (), start: bool = True, state_dir: Path | None = None,
             broker: Any = None) -> HubProcess:
        """Hubs of one test share a state directory (so one data key) unless told otherwise.
        `broker`: anything with .host and .port (the `broker` fixture), instead of site.json's."""
        state = state_dir or tmp_path / "hub-state"
        if broker is not None:
            extra_args = ("--broker", f"{broker.host}:{broker.port}", *extra_args)
        url = db_url or f"sqlite:///{state / 'hub.db'}"
        hub = HubProcess(Path(site_dir), url, state, hub_id, share_group, extra_args,
                         log_path=state / f"{hub_id}-{len(started)}.log")
        started.append(hub)
        return hub.start() if start else hub

    yield make
    for hub in started:
        hub.stop()
