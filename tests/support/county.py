"""Fixture: the county FHIR simulator as its own process (`python -m county_simulator`).

`county_factory(data_dir=None, port=0) -> CountyProcess`; `county` -> one started for the test.
`.url` (the FHIR base), `.faults(mode, count=None, delay_s=5)`, `.stats()`, `.search(type, identifier)`,
`.kill()` (SIGKILL), `.stop()`, `.restart()` (same port, same data). Every one is stopped at teardown.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from county_simulator.__main__ import READY
from tests.support.processes import terminate

START_TIMEOUT_S = 20.0


class CountyProcess:
    def __init__(self, data_dir: Path, port: int = 0) -> None:
        self.data_dir = data_dir
        self.port = port
        self.proc: subprocess.Popen[str] | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "county_simulator", "--data", str(self.data_dir),
                                      "--port", str(self.port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith(READY):
                self.url = line.split()[-1]
                self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])
                return
            if not line and self.proc.poll() is not None:
                break
        terminate(self.proc, 2)
        raise RuntimeError(f"county simulator did not start (exit {self.proc.returncode})")

    @property
    def admin(self) -> str:
        return self.url.rsplit("/fhir", 1)[0] + "/_admin"

    def faults(self, mode: str, count: int | None = None, delay_s: float = 5.0, retry_after_s: int = 1) -> None:
        r = httpx.post(f"{self.admin}/faults", json={"mode": mode, "count": count, "delay_s": delay_s,
                                                     "retry_after_s": retry_after_s}, timeout=5)
        r.raise_for_status()

    def stats(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.admin}/stats", timeout=5).json())

    def search(self, rtype: str, identifier: str | None = None) -> list[dict[str, Any]]:
        params = {"identifier": identifier} if identifier else {}
        doc = httpx.get(f"{self.url}/{rtype}", params=params, timeout=5).json()
        return [e["resource"] for e in doc.get("entry", [])]

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc, 5)

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def county_factory(tmp_path: Path) -> Iterator[Callable[..., CountyProcess]]:
    started: list[CountyProcess] = []

    def make(data_dir: Path | None = None, port: int = 0) -> CountyProcess:
        c = CountyProcess(data_dir or tmp_path / f"county-{len(started)}", port)
        started.append(c)
        return c

    yield make
    for c in started:
        c.stop()


@pytest.fixture
def county(county_factory: Callable[..., CountyProcess]) -> CountyProcess:
    return county_factory()
