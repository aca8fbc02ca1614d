"""Run `mch-hub run` as a supervised child: start (returns once it is subscribed), stop, kill, restart.

`make run`, the benchmarks and the tests start hubs through this one class, the way
`mqtt_broker_config.launcher.BrokerProcess` starts brokers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from central_hub.errors import HubError
from central_hub.store import Store, open_store

READY_LINE = "mch-hub: subscribed"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
KILL_WAIT_S = 5.0
POLL_S = 0.05
LOG_TAIL_CHARS = 4000


def terminate(proc: subprocess.Popen[Any], grace_s: float) -> int:
    """SIGTERM and wait up to `grace_s`; SIGKILL if it is still running. Returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(KILL_WAIT_S)
    return proc.returncode


def process_tree(pid: int) -> list[int]:
    """A process and its descendants, from /proc (a hub worker's store half is a child process)."""
    out = [pid]
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return out
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:
            continue
        for child in children:
            out.extend(process_tree(int(child)))
    return out


class HubProcess:
    """`mch-hub run` in a subprocess; its output goes to a log file (default: in its state directory)."""

    def __init__(self, site_dir: Path, db_url: str, state_dir: Path, hub_id: str = "hub",
                 share_group: str | None = None, extra_args: tuple[str, ...] = (),
                 log_path: Path | None = None, python: str = sys.executable) -> None:
        self.site_dir, self.db_url, self.state_dir = Path(site_dir), db_url, Path(state_dir)
        self.hub_id, self.share_group, self.extra_args = hub_id, share_group, extra_args
        self.log_path = log_path or self.state_dir / f"{hub_id}.log"
        self.python = python
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def argv(self) -> list[str]:
        args = [self.python, "-m", "central_hub.cli", "run", "--site", str(self.site_dir), "--db", self.db_url,
                "--state-dir", str(self.state_dir), "--hub-id", self.hub_id, "--log-level", "INFO"]
        if self.share_group:
            args += ["--share-group", self.share_group]
        return args + list(self.extra_args)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self, timeout_s: float = START_TIMEOUT_S) -> HubProcess:
        """Start and wait until the hub has subscribed; `HubError` with its log tail otherwise."""
        if self.running():
            raise HubError(f"hub {self.hub_id} is already running (pid {self.pid})")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        try:
            self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        except OSError as exc:
            raise HubError(f"cannot run {self.python}: {exc.strerror}") from None
        finally:
            log.close()
        self.starts += 1
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if READY_LINE in self.log_text()[offset:]:
                return self
            if self.proc.poll() is not None:
                raise HubError(f"mch-hub exited with {self.proc.returncode}:\n{self._tail(offset)}")
            time.sleep(POLL_S)
        self.kill()
        raise HubError(f"mch-hub not subscribed within {timeout_s} s:\n{self._tail(offset)}")

    def _tail(self, offset: int) -> str:
        return self.log_text()[offset:][-LOG_TAIL_CHARS:]

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
            self.proc.wait(KILL_WAIT_S)

    def restart(self) -> HubProcess:
        self.stop()
        return self.start()

    def store(self) -> Store:
        """Open the hub's database (the caller closes it)."""
        return open_store(self.db_url)
