"""A4 report printer behind a CUPS queue: submit a PDF, follow the job to its end, report faults.

A job that cannot finish because the printer is offline, out of paper or stopped is canceled
(``cancel_on_fault``): a patient's report must not come out later, unattended, for whoever
stands at the kiosk then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiosk.a4printer.client import IppClient, probe_device
from kiosk.a4printer.errors import (
    A4PrinterError,
    JobFailedError,
    JobTimeoutError,
    OutOfPaperError,
    PrinterOfflineError,
    PrinterStoppedError,
)
from kiosk.a4printer.status import (
    JobState,
    JobStatus,
    PrinterState,
    PrinterStatus,
    parse_job_attributes,
    parse_printer_attributes,
)

PDF_MAGIC = b"%PDF-"
DEFAULT_JOB_TIMEOUT_S = 120.0
DEFAULT_POLL_S = 0.25
DEFAULT_OFFLINE_GRACE_S = 5.0
DEFAULT_PROBE_S = 1.0
A4_OPTIONS = {"media": "iso_a4_210x297mm", "sides": "one-sided"}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobResult:
    job_id: int
    state: JobState
    seconds: float


def fault_error(status: PrinterStatus, *, port: str) -> A4PrinterError | None:
    """The error a printer status amounts to, or None when it can print."""
    where = f"printer {status.queue!r}: {status.describe()}"
    if status.out_of_paper:
        return OutOfPaperError(f"out of paper ({where})", port=port)
    if status.offline:
        return PrinterOfflineError(f"printer does not answer ({where})", port=port)
    if status.state == PrinterState.STOPPED or not status.accepting or status.faults:
        return PrinterStoppedError(f"printer cannot print ({where})", port=port)
    return None


class A4Printer:
    def __init__(self, client: IppClient, queue: str, *, job_timeout_s: float = DEFAULT_JOB_TIMEOUT_S,
                 poll_s: float = DEFAULT_POLL_S, offline_grace_s: float = DEFAULT_OFFLINE_GRACE_S,
                 cancel_on_fault: bool = True, probe_s: float = DEFAULT_PROBE_S, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self.queue = queue
        self._timeout_s = job_timeout_s
        self._poll_s = poll_s
        self._offline_grace_s = offline_grace_s
        self._cancel_on_fault = cancel_on_fault
        self._probe_s = probe_s
        self._clock = clock
        self._sleep = sleep

    @property
    def port(self) -> str:
        return f"{self._client.server}/{self.queue}"

    def status(self) -> PrinterStatus:
        return parse_printer_attributes(self.queue, self._client.printer_attributes(self.queue))

    def job(self, job_id: int) -> JobStatus:
        return parse_job_attributes(job_id, self._client.job_attributes(job_id))

    def submit(self, pdf: Path, title: str) -> int:
        """Queue a PDF (checked to be one) after checking that the printer can print now."""
        try:
            with open(pdf, "rb") as fh:
                head = fh.read(len(PDF_MAGIC))
        except OSError as exc:
            raise A4PrinterError(f"cannot read {pdf}: {exc.strerror}", port=self.port) from exc
        if head != PDF_MAGIC:
            raise A4PrinterError(f"{pdf.name} is not a PDF", port=self.port)
        error = fault_error(self.status(), port=self.port)
        if error is not None:
            raise error
        job_id = self._client.print_file(self.queue, pdf, title, A4_OPTIONS)
        log.info("queued job %d on %s", job_id, self.queue)
        return job_id

    def follow(self, job_id: int, timeout_s: float | None = None) -> JobResult:
        """Wait until the job completes; raise (and cancel it) on a printer fault or the timeout."""
        start = self._clock()
        deadline = start + (timeout_s if timeout_s is not None else self._timeout_s)
        offline_since: float | None = None
        next_probe = start
        device_down = False
        down_error: PrinterOfflineError | None = None
        while True:
            job = self.job(job_id)
            now = self._clock()
            if job.state == JobState.COMPLETED:
                return JobResult(job_id, job.state, now - start)
            if job.state.terminal:
                raise JobFailedError(f"job {job_id} {job.state.name.lower()}: "
                                     f"{job.message or ', '.join(job.reasons) or 'no reason given'}", port=self.port)
            status = self.status()
            error = fault_error(status, port=self.port)
            if error is None and status.device_uri and now >= next_probe:
                # CUPS only retries quietly while the device is unreachable: ask the device ourselves
                next_probe = now + self._probe_s
                try:
                    probe_device(status.device_uri, self._probe_s)
                    device_down = False
                except PrinterOfflineError as exc:
                    device_down = True
                    down_error = PrinterOfflineError(f"{exc.message} ({job.message or status.describe()})",
                                                     port=self.port)
            if error is None and device_down:
                error = down_error
            if isinstance(error, PrinterOfflineError):
                offline_since = offline_since if offline_since is not None else now
                if now - offline_since < self._offline_grace_s:
                    error = None
            else:
                offline_since = None
            if error is None and now >= deadline:
                error = JobTimeoutError(f"job {job_id} not completed within {deadline - start:.0f} s "
                                        f"(job {job.state.name.lower()})", port=self.port)
            if error is not None:
                self._abandon(job_id)
                raise error
            self._sleep(self._poll_s)

    def print_pdf(self, pdf: Path, title: str, timeout_s: float | None = None) -> JobResult:
        return self.follow(self.submit(pdf, title), timeout_s)

    def _abandon(self, job_id: int) -> None:
        if not self._cancel_on_fault:
            return
        try:
            self._client.cancel_job(job_id)
            log.warning("canceled job %d on %s", job_id, self.queue)
        except A4PrinterError as exc:
            log.error("could not cancel job %d on %s: %s", job_id, self.queue, exc)

    def self_test(self) -> str:
        """Harmless round trip: ask CUPS for the queue's state; a fault raises."""
        status = self.status()
        error = fault_error(status, port=self.port)
        if error is not None:
            raise error
        device = probe_device(status.device_uri) if status.device_uri else "no device URI"
        return f"queue {self.queue!r} {status.describe()}; {device}"
