"""The IPP client the A4 printer driver uses, and its pycups implementation.

The driver sees only :class:`IppClient`; pycups (``cups.Connection``) and its ``cups.IPPError`` /
``RuntimeError`` stay behind :class:`PycupsClient`, wrapped into :mod:`kiosk.a4printer.errors`.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import cups

from kiosk.a4printer.errors import (
    A4PrinterError,
    CupsUnavailableError,
    PrinterOfflineError,
    QueueNotFoundError,
)

DEFAULT_SERVER = "localhost:631"
IPP_DEFAULT_PORT = 631
IPP_STATUS_NOT_FOUND = 0x0406
NETWORK_SCHEME_PORTS = {"ipp": 631, "ipps": 631, "http": 80, "https": 443, "socket": 9100, "lpd": 515}
DEFAULT_PROBE_TIMEOUT_S = 3.0
PRINTER_ATTRIBUTES = ["printer-state", "printer-state-reasons", "printer-state-message",
                      "printer-is-accepting-jobs", "device-uri"]
JOB_ATTRIBUTES = ["job-state", "job-state-reasons", "job-state-message", "job-printer-state-message"]


class IppClient(Protocol):
    @property
    def server(self) -> str: ...

    def printer_attributes(self, queue: str) -> Mapping[str, Any]: ...

    def print_file(self, queue: str, path: Path, title: str, options: Mapping[str, str]) -> int: ...

    def job_attributes(self, job_id: int) -> Mapping[str, Any]: ...

    def cancel_job(self, job_id: int) -> None: ...


def split_server(server: str) -> tuple[str, int]:
    """``host:port`` (or a bare host, or a domain socket path) to pycups' host and port."""
    host, sep, port = server.rpartition(":")
    if sep and host and port.isdigit():
        return host.strip("[]"), int(port)
    return server, IPP_DEFAULT_PORT


class PycupsClient:
    """IPP to cupsd through pycups; one connection, reopened after a failure."""

    def __init__(self, server: str = DEFAULT_SERVER) -> None:
        self._server = server
        self._conn: Any = None

    @property
    def server(self) -> str:
        return self._server

    def _connection(self) -> Any:
        if self._conn is None:
            host, port = split_server(self._server)
            try:
                self._conn = cups.Connection(host=host, port=port)
            except RuntimeError as exc:
                raise CupsUnavailableError(f"cannot reach CUPS: {exc}", port=self._server) from exc
        return self._conn

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        conn = self._connection()
        try:
            return getattr(conn, fn)(*args, **kwargs)
        except cups.IPPError as exc:
            status, text = exc.args if len(exc.args) == 2 else (None, str(exc))
            if status == IPP_STATUS_NOT_FOUND:
                raise QueueNotFoundError(f"{what}: {text}", port=self._server) from exc
            if status is None or status < 0:
                self._conn = None
                raise CupsUnavailableError(f"{what}: {text}", port=self._server) from exc
            raise A4PrinterError(f"{what}: IPP status 0x{status:04X} {text}", port=self._server) from exc
        except RuntimeError as exc:
            self._conn = None
            raise CupsUnavailableError(f"{what}: {exc}", port=self._server) from exc

    def printer_attributes(self, queue: str) -> Mapping[str, Any]:
        return dict(self._call(f"status of queue {queue!r}", "getPrinterAttributes", queue,
                               requested_attributes=PRINTER_ATTRIBUTES))

    def print_file(self, queue: str, path: Path, title: str, options: Mapping[str, str]) -> int:
        return int(self._call(f"submit to queue {queue!r}", "printFile", queue, str(path), title, dict(options)))

    def job_attributes(self, job_id: int) -> Mapping[str, Any]:
        return dict(self._call(f"job {job_id}", "getJobAttributes", job_id, requested_attributes=JOB_ATTRIBUTES))

    def cancel_job(self, job_id: int) -> None:
        self._call(f"cancel job {job_id}", "cancelJob", job_id)


def probe_device(uri: str, timeout_s: float = DEFAULT_PROBE_TIMEOUT_S) -> str:
    """TCP round trip to a network printer named by a CUPS device URI; local URIs are not probed."""
    parts = urlsplit(uri)
    default_port = NETWORK_SCHEME_PORTS.get(parts.scheme)
    if default_port is None or not parts.hostname:
        return f"device {parts.scheme or uri}: not a network printer, not probed"
    port = parts.port or default_port
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout_s):
            return f"device {parts.hostname}:{port} answers"
    except OSError as exc:
        raise PrinterOfflineError(f"printer at {parts.hostname}:{port} does not answer: "
                                  f"{exc.strerror or exc}", port=uri) from exc
