"""Print a report PDF through CUPS (pycups) and follow the job until the printer has it.

The station's own small path (components do not share code): submit with print-scaling=none so
the paper scale survives, poll the job, and turn CUPS' states and errors into `PrintError` with
the queue name, so the nurse sees why nothing came out. The PDF stays archived either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from fetal_monitor_station.errors import StationError

IPP_JOB_COMPLETED = 9
IPP_JOB_CANCELED = 7
IPP_JOB_ABORTED = 8
IPP_JOB_STOPPED = 6
DEFAULT_TIMEOUT_S = 60.0
POLL_S = 0.25
PRINT_OPTIONS = {"print-scaling": "none", "media": "iso_a4_210x297mm", "orientation-requested": "4"}


class PrintError(StationError):
    pass


class CupsPrinter:
    def __init__(self, queue: str, server: str = "localhost:631", *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.queue = queue
        self.server = server
        self.timeout_s = timeout_s
        self._sleep = sleep

    def _connection(self) -> object:
        import cups

        host, _, port = self.server.rpartition(":")
        try:
            return cups.Connection(host=host or self.server, port=int(port) if port.isdigit() else 631)
        except RuntimeError as exc:
            raise PrintError(f"CUPS at {self.server} not reachable ({exc})") from None

    def print_pdf(self, path: Path, title: str) -> int:
        """Submit and wait until the job completed; returns the CUPS job id."""
        import cups

        conn = self._connection()
        try:
            job_id = int(conn.printFile(self.queue, str(path), title, PRINT_OPTIONS))  # type: ignore[attr-defined]
        except cups.IPPError as exc:
            raise PrintError(f"printer {self.queue}: refused the report ({exc.args[-1]})") from None
        end = time.monotonic() + self.timeout_s
        while True:
            try:
                attrs = conn.getJobAttributes(job_id, requested_attributes=[  # type: ignore[attr-defined]
                    "job-state", "job-state-reasons", "job-printer-state-message"])
            except cups.IPPError as exc:
                raise PrintError(f"printer {self.queue}: job {job_id} lost ({exc.args[-1]})") from None
            state = int(attrs.get("job-state", 0))
            if state == IPP_JOB_COMPLETED:
                return job_id
            if state in (IPP_JOB_CANCELED, IPP_JOB_ABORTED, IPP_JOB_STOPPED):
                reason = attrs.get("job-printer-state-message") or attrs.get("job-state-reasons")
                raise PrintError(f"printer {self.queue}: job {job_id} did not print ({reason})")
            if time.monotonic() > end:
                try:
                    conn.cancelJob(job_id)  # type: ignore[attr-defined]
                except cups.IPPError:
                    pass  # the job may have just ended; the error below says what matters
                raise PrintError(f"printer {self.queue}: job {job_id} not printed after {self.timeout_s:.0f} s")
            self._sleep(POLL_S)
