"""Job following against a scripted IPP client and a fake clock (no CUPS)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from kiosk.a4printer.errors import JobFailedError, JobTimeoutError, OutOfPaperError, PrinterStoppedError
from kiosk.a4printer.printer import A4Printer
from kiosk.a4printer.status import JobState

IDLE = {"printer-state": 3, "printer-state-reasons": ["none"], "printer-is-accepting-jobs": True}


class ScriptedClient:
    server = "cups.test:631"

    def __init__(self, jobs: list[int], printer: Mapping[str, Any] = IDLE) -> None:
        self.jobs = jobs
        self.printer = dict(printer)
        self.canceled: list[int] = []
        self.submitted: list[tuple[str, str, dict]] = []

    def printer_attributes(self, queue: str) -> Mapping[str, Any]:
        return self.printer

    def print_file(self, queue: str, path: Path, title: str, options: Mapping[str, str]) -> int:
        self.submitted.append((queue, title, dict(options)))
        return 42

    def job_attributes(self, job_id: int) -> Mapping[str, Any]:
        state = self.jobs.pop(0) if len(self.jobs) > 1 else self.jobs[0]
        return {"job-state": state, "job-state-message": "scripted"}

    def cancel_job(self, job_id: int) -> None:
        self.canceled.append(job_id)


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def printer(client: ScriptedClient, **kwargs: Any) -> tuple[A4Printer, FakeClock]:
    clock = FakeClock()
    return A4Printer(client, "report", clock=clock, sleep=clock.sleep, poll_s=1.0, **kwargs), clock


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "r.pdf"
    path.write_bytes(b"%PDF-1.4\n%%EOF\n")
    return path


def test_completed_after_processing(pdf: Path) -> None:
    client = ScriptedClient([3, 5, 5, 9])
    a4, clock = printer(client)
    result = a4.print_pdf(pdf, "报告")
    assert result.state is JobState.COMPLETED and result.seconds == 3.0
    assert client.submitted == [("report", "报告", {"media": "iso_a4_210x297mm", "sides": "one-sided"})]


def test_timeout_cancels_the_job(pdf: Path) -> None:
    client = ScriptedClient([5])
    a4, clock = printer(client, job_timeout_s=10)
    with pytest.raises(JobTimeoutError, match="not completed within 10 s"):
        a4.print_pdf(pdf, "r")
    assert client.canceled == [42] and clock.t == 10.0


def test_aborted_job_is_an_error_and_faults_are_checked_before_submitting(pdf: Path) -> None:
    with pytest.raises(JobFailedError, match="aborted: scripted"):
        printer(ScriptedClient([5, 8]))[0].print_pdf(pdf, "r")
    empty = ScriptedClient([9], {**IDLE, "printer-state-reasons": ["media-empty-error"]})
    with pytest.raises(OutOfPaperError):
        printer(empty)[0].submit(pdf, "r")
    assert empty.submitted == []
    stopped = ScriptedClient([9], {**IDLE, "printer-state": 5})
    with pytest.raises(PrinterStoppedError):
        printer(stopped)[0].self_test()


def test_fault_during_job_without_cancel(pdf: Path) -> None:
    client = ScriptedClient([5])
    a4, _ = printer(client, cancel_on_fault=False)
    job = a4.submit(pdf, "r")
    client.printer["printer-state-reasons"] = ["media-needed-report"]
    with pytest.raises(OutOfPaperError):
        a4.follow(job)
    assert client.canceled == []
