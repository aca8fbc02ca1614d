"""The station's faults and alarm summary for its state/1 messages (births and heartbeats).

The hub's fleet view (central_hub/fleet.py) keeps one entry per fault code, so each kind of
fault is one code, with what a technician needs in `detail`:

- `monitor-disconnected`: beds whose serial link is down (unplugged cable, monitor off, port
  gone), since the first of them went down;
- `archive-disk-low`: free space on the archive's file system under the configured minimum
  (critical under a quarter of it: the archive stops taking samples when the disk is full);
- `printer-fault`: the last CTG report did not print (the PDF stays archived); cleared by the
  next report that prints.

Called on the link's thread: it reads the station under its lock and never blocks on I/O but
one statvfs.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from fetal_monitor_station.alarm_journal import PRIORITIES
from fetal_monitor_station.station import Station

DEFAULT_MIN_FREE_MB = 512
DETAIL_MAX = 200
_HIGHEST = {0: "none", 1: "low", 2: "medium", 3: "high"}


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


class ReportPrinter(Protocol):
    queue: str

    def print_pdf(self, path: Path, title: str) -> int: ...


def _fault(code: str, severity: str, detail: str, since_ms: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code, "severity": severity, "detail": detail[:DETAIL_MAX]}
    if since_ms is not None:
        out["since_ms"] = since_ms
    return out


class PrinterWatch:
    """Wraps the report printer and remembers whether the last report printed."""

    def __init__(self, printer: ReportPrinter, clock: Callable[[], float]) -> None:
        self._printer = printer
        self._clock = clock
        self._lock = threading.Lock()
        self.queue = printer.queue
        self.fault: tuple[int, str] | None = None  # (since ms, what went wrong)

    def print_pdf(self, path: Path, title: str) -> int:
        try:
            job = self._printer.print_pdf(path, title)
        except Exception as exc:
            with self._lock:
                since = self.fault[0] if self.fault else int(self._clock() * 1000)
                self.fault = (since, str(exc))
            raise
        with self._lock:
            self.fault = None
        return job


class StationHealth:
    def __init__(self, station: Station, archive: Path, *, min_free_mb: float = DEFAULT_MIN_FREE_MB,
                 printer: PrinterWatch | None = None,
                 disk_usage: Callable[[str], DiskUsage | Any] = shutil.disk_usage) -> None:
        self._station = station
        self._archive_dir = archive.parent
        self._min_free = int(min_free_mb * 1024 * 1024)
        self.printer = printer
        self._disk_usage = disk_usage
        self._down_since: dict[str, int] = {}  # bed -> ms it was first seen disconnected

    def faults(self) -> list[dict[str, Any]]:
        out = []
        monitors = self._monitors()
        if monitors is not None:
            out.append(monitors)
        disk = self._disk()
        if disk is not None:
            out.append(disk)
        if self.printer is not None and self.printer.fault is not None:
            since, what = self.printer.fault
            out.append(_fault("printer-fault", "warning", f"{self.printer.queue}: {what}", since))
        return out

    def _monitors(self) -> dict[str, Any] | None:
        now_ms = int(self._station.clock() * 1000)
        down = sorted(bed for bed, reader in self._station.readers.items() if not reader.connected)
        self._down_since = {bed: self._down_since.get(bed, now_ms) for bed in down}
        if not down:
            return None
        beds = ", ".join(down)
        return _fault("monitor-disconnected", "warning", f"{len(down)} bed(s): {beds}", min(self._down_since.values()))

    def _disk(self) -> dict[str, Any] | None:
        try:
            usage = self._disk_usage(os.fspath(self._archive_dir))
        except OSError as exc:
            return _fault("archive-disk-low", "critical", f"{self._archive_dir}: cannot read free space ({exc})")
        if usage.free >= self._min_free:
            return None
        severity = "critical" if usage.free < self._min_free // 4 else "warning"
        return _fault("archive-disk-low", severity, f"{self._archive_dir}: {usage.free // (1024 * 1024)} MiB free, "
                      f"minimum {self._min_free // (1024 * 1024)} MiB")

    def alarm_summary(self) -> dict[str, Any]:
        """Beds with an active alarm and the highest priority among them (fleet view)."""
        with self._station.lock:
            per_bed = [max((PRIORITIES.get(a.severity, 2) for a in alarms), default=0)
                       for alarms in self._station.active_alarms().values()]
        in_alarm = [p for p in per_bed if p > 0]
        return {"beds_in_alarm": len(in_alarm), "highest": _HIGHEST[max(in_alarm, default=0)]}
