"""A simulated A4 printer: ``ippeveprinter`` (CUPS's IPP Everywhere printer application) on a free
port, and a temporary CUPS queue pointing at it. Needs cupsd, cups-ipp-utils and avahi-daemon
(ippeveprinter insists on DNS-SD even with ``-r off``); see scripts/setup.d/30-kiosk.sh.

``kind="ok"`` copies every job into ``out_dir``; ``kind="no-paper"`` reports ``media-empty`` the
way a real printer does (``STATE:`` lines from its print command) and never finishes a job.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import time
from pathlib import Path

import cups

from kiosk.a4printer.client import DEFAULT_SERVER, split_server
from kiosk.a4printer.errors import PrinterOfflineError

START_WAIT_S = 10.0
STOP_WAIT_S = 5.0
ADMIN_TIMEOUT_S = 30
# Queues are administered over cupsd's domain socket: a freshly started cupsd refuses lpadmin over
# TCP ("Unauthorized": its local-certificate auth is not accepted there), while root on the socket
# is trusted. Printing and status queries still go to `server` like any client's.
ADMIN_SOCKET = "/run/cups/cups.sock"
EVERYWHERE_MODEL_SUFFIX = "IPP Everywhere"
KINDS = ("ok", "no-paper")
PRINT_OK = """#!/bin/sh
cp "$1" "{out}/"
echo "INFO: printed" >&2
"""
PRINT_NO_PAPER = """#!/bin/sh
echo "STATE: +media-empty,media-needed" >&2
echo "ERROR: tray 1 is empty" >&2
sleep 60
"""
_serial = itertools.count()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SimulatedA4Printer:
    def __init__(self, workdir: Path, *, kind: str = "ok", server: str = DEFAULT_SERVER,
                 queue_prefix: str = "mchsim", admin_socket: str = ADMIN_SOCKET) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        self.server = server
        self.admin_socket = admin_socket
        self.port = free_port()
        self.out_dir = workdir / "out"
        self.out_dir.mkdir(parents=True, exist_ok=True)
        spool = workdir / "spool"
        spool.mkdir(exist_ok=True)
        script = workdir / "print.sh"
        script.write_text((PRINT_NO_PAPER if kind == "no-paper" else PRINT_OK).format(out=self.out_dir))
        script.chmod(0o755)
        self.queue = f"{queue_prefix}_{kind.replace('-', '_')}_{os.getpid()}_{next(_serial)}"
        self._log = open(workdir / "ippeveprinter.log", "wb")  # noqa: SIM115 - closed in stop()
        self._proc: subprocess.Popen[bytes] | None = None
        try:
            self._proc = subprocess.Popen(
                ["ippeveprinter", "-r", "off", "-p", str(self.port), "-d", str(spool), "-f", "application/pdf",
                 "-c", str(script), "-n", "localhost", f"MCH simulated {self.queue}"],
                stdout=self._log, stderr=subprocess.STDOUT)
            self._wait_listening()
            self._admin(["lpadmin", "-p", self.queue, "-E", "-v", self.device_uri, "-m", "everywhere"])
            self._wait_driver()
        except BaseException:
            self.stop()
            raise

    @property
    def device_uri(self) -> str:
        return f"ipp://127.0.0.1:{self.port}/ipp/print"

    def _admin(self, argv: list[str]) -> None:
        cmd = [argv[0], "-h", self.admin_socket, *argv[1:]]
        try:
            subprocess.run(cmd, check=True, timeout=ADMIN_TIMEOUT_S, capture_output=True)
        except (OSError, subprocess.SubprocessError) as exc:
            detail = exc.stderr.decode(errors="replace").strip() if isinstance(exc, subprocess.CalledProcessError) else ""
            raise PrinterOfflineError(f"cannot set up simulated queue: {' '.join(cmd)}: {exc} {detail}".rstrip(),
                                      port=self.admin_socket) from exc

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_WAIT_S
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                break
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise PrinterOfflineError("ippeveprinter did not start (is avahi-daemon running?)", port=self.device_uri)

    def _wait_driver(self) -> None:
        """cupsd builds the IPP Everywhere PPD after lpadmin returns; until then the queue is raw."""
        host, port = split_server(self.server)
        conn = cups.Connection(host=host, port=port)
        deadline = time.monotonic() + START_WAIT_S
        while time.monotonic() < deadline:
            model = conn.getPrinterAttributes(self.queue, requested_attributes=["printer-make-and-model"])
            if str(model.get("printer-make-and-model", "")).endswith(EVERYWHERE_MODEL_SUFFIX):
                return
            time.sleep(0.1)
        raise PrinterOfflineError("CUPS did not build the IPP Everywhere driver", port=self.queue)

    def power_off(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(STOP_WAIT_S)

    def stop(self) -> None:
        for argv in (["cancel", "-a", self.queue], ["lpadmin", "-x", self.queue]):
            try:
                self._admin(argv)
            except PrinterOfflineError:
                continue  # the queue may not exist yet
        self.power_off()
        self._log.close()
