"""Run mosquitto for a site: start (returns once the TLS port accepts), stop, kill, restart, reload."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from mqtt_broker_config import render, rundir
from mqtt_broker_config.errors import BrokerError, BrokerStartError

log = logging.getLogger(__name__)

MOSQUITTO = "/usr/sbin/mosquitto"
START_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 10.0
RELOAD_TIMEOUT_S = 5.0
POLL_S = 0.01
CONNECT_PROBE_TIMEOUT_S = 0.2
LOG_TAIL_CHARS = 2000
RELOAD_MARK = "Reloading config"
RUNNING_MARK = " running"  # "mosquitto version 2.0.11 running", logged once the listeners are open
STDERR_FILE = "mosquitto.stderr"


class BrokerProcess:
    """One mosquitto for `site_dir`, its state in `run_dir` (kept across restarts)."""

    def __init__(self, site_dir: Path | str, run_dir: Path | str, port: int, host: str = "127.0.0.1", *,
                 settings: render.BrokerSettings | None = None, user: str | None = None,
                 binary: str = MOSQUITTO) -> None:
        self.site_dir = render.broker_site_dir(Path(site_dir))
        self.run_dir = Path(run_dir)
        self.port = port
        self.host = host
        self.settings = settings
        self.user = rundir.run_user(user)
        self.binary = binary
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.run_dir / render.CONF_FILE

    @property
    def log_path(self) -> Path:
        return self.run_dir / render.LOG_FILE

    @property
    def _pid_path(self) -> Path:
        return self.run_dir / render.PID_FILE

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        if self.running:
            raise BrokerError(f"broker on port {self.port} is already running (pid {self.pid})")
        conf = rundir.prepare(self.site_dir, self.run_dir, self.port, self.host, self.user, self.settings)
        log_offset = self._log_size()
        stderr_path = self.run_dir / STDERR_FILE
        rundir.install(b"", stderr_path, rundir.PUBLIC_MODE, self.user)
        err_fd = os.open(stderr_path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            self._proc = subprocess.Popen([self.binary, "-c", str(conf)], stdin=subprocess.DEVNULL,
                                          stdout=err_fd, stderr=err_fd, start_new_session=True)
        except OSError as exc:
            raise BrokerStartError(f"cannot run {self.binary}: {exc.strerror}") from None
        finally:
            os.close(err_fd)
        rundir.install(f"{self._proc.pid}\n".encode(), self._pid_path, rundir.PUBLIC_MODE, self.user)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise BrokerStartError(f"mosquitto exited with status {code} at start "
                                       f"(port {self.port}):\n{self._diagnostics()}")
            # our own log must say so: another process on the port would also accept
            if RUNNING_MARK in self._log_since(log_offset) and self._accepts():
                return
            time.sleep(POLL_S)
        self.kill()
        raise BrokerStartError(f"mosquitto did not accept on {self.host}:{self.port} within {timeout_s} s:\n"
                               f"{self._diagnostics()}")

    def _accepts(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=CONNECT_PROBE_TIMEOUT_S):
                return True
        except OSError:
            return False

    def _diagnostics(self) -> str:
        try:
            stderr = (self.run_dir / STDERR_FILE).read_text(errors="replace")
        except OSError:
            stderr = ""
        return (stderr + self.log_text())[-LOG_TAIL_CHARS:]

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM and wait: mosquitto saves its persistence file on the way out."""
        self._signal_and_wait(signal.SIGTERM, timeout_s)

    def kill(self) -> None:
        """SIGKILL: a crash; only what the last autosave wrote survives."""
        self._signal_and_wait(signal.SIGKILL, STOP_TIMEOUT_S)

    def _signal_and_wait(self, sig: signal.Signals, timeout_s: float) -> None:
        proc, self._proc = self._proc, None
        self._pid_path.unlink(missing_ok=True)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            # Stopped either way; what a graceful stop would have saved since the last autosave is lost.
            proc.kill()
            proc.wait(timeout=timeout_s)
            log.warning("mosquitto (pid %s) did not exit %s s after %s; killed (state since the last autosave "
                        "may be lost)", proc.pid, timeout_s, sig.name)

    def restart(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Graceful stop, start again on the same port with the same persistence."""
        self.stop()
        self.start(timeout_s)

    def reload(self, timeout_s: float = RELOAD_TIMEOUT_S) -> None:
        """Copy the site's CRL/certs/ACL again and SIGHUP; returns once mosquitto has reloaded.

        Clients already connected are not disconnected by a revocation: restart() for that.
        """
        if self._proc is None or not self.running:
            raise BrokerError(f"broker on port {self.port} is not running")
        rundir.sync_tls(self.site_dir, self.run_dir, self.user)
        log_offset = self._log_size()
        self._proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout_s
        while RELOAD_MARK not in self._log_since(log_offset):
            if time.monotonic() > deadline or not self.running:
                raise BrokerError(f"mosquitto did not report a reload within {timeout_s} s:\n{self._diagnostics()}")
            time.sleep(POLL_S)
        # the certificates are reloaded right after the log line, in the same loop iteration
        while not self._accepts():
            if time.monotonic() > deadline:
                raise BrokerError(f"mosquitto stopped accepting after reload:\n{self._diagnostics()}")
            time.sleep(POLL_S)

    def wait(self, timeout_s: float | None = None) -> int:
        """Block until mosquitto exits (used by `mch-broker run`); returns its exit status."""
        if self._proc is None:
            raise BrokerError("broker not started")
        return self._proc.wait(timeout=timeout_s)

    def _log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def _log_since(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> BrokerProcess:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def free_port(host: str = "127.0.0.1") -> int:
    """An ephemeral port the kernel just handed out (closed again; race window is tiny)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def signal_running(run_dir: Path, sig: signal.Signals = signal.SIGHUP, binary: str = MOSQUITTO) -> int:
    """Signal the mosquitto whose pid file is in run_dir (for `mch-broker reload`); returns the pid.

    The pid file belongs to the broker user: the pid is signalled only if it is `binary` running
    this run dir's config, so a planted pid never makes root signal another process."""
    pid_path = Path(run_dir) / render.PID_FILE
    conf = str((Path(run_dir) / render.CONF_FILE).resolve())
    try:
        fd = os.open(pid_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd) as f:
            pid = int(f.read(32).strip())
        exe = os.readlink(f"/proc/{pid}/exe")
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError) as exc:
        raise BrokerError(f"no running broker recorded in {pid_path}: {exc}") from None
    if Path(exe) != Path(binary).resolve() or conf.encode() not in argv:
        raise BrokerError(f"{pid_path} names pid {pid}, which is not {binary} -c {conf}; not signalling it")
    try:
        os.kill(pid, sig)
    except OSError as exc:
        raise BrokerError(f"cannot signal mosquitto pid {pid}: {exc.strerror}") from None
    return pid
