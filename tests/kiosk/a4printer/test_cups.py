"""Against the real cupsd with ippeveprinter printers (IPP Everywhere queues created per test)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from kiosk.a4printer import A4Printer, PycupsClient
from kiosk.a4printer.errors import (
    A4PrinterError,
    CupsUnavailableError,
    OutOfPaperError,
    PrinterOfflineError,
    PrinterStoppedError,
    QueueNotFoundError,
)
from kiosk.a4printer.pdf import make_test_page
from kiosk.a4printer.simulator import ADMIN_SOCKET
from kiosk.a4printer.status import JobState, PrinterState

pytestmark = pytest.mark.integration


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "report.pdf"
    path.write_bytes(make_test_page())
    return path


def test_pdf_printed_to_completion(simulated_printer, cupsd: str, pdf: Path) -> None:
    sim = simulated_printer("ok")
    printer = A4Printer(PycupsClient(cupsd), sim.queue, job_timeout_s=60)
    assert printer.status().state is PrinterState.IDLE
    result = printer.print_pdf(pdf, "孕产妇建档报告")
    assert result.state is JobState.COMPLETED and result.seconds < 60
    printed = list(sim.out_dir.iterdir())
    assert len(printed) == 1  # CUPS's pdftopdf rewrote the file; the text is still ours
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(printed[0]), "-"], check=True, capture_output=True,
                          timeout=30).stdout.decode()
    assert "孕产妇建档报告（测试）" in text
    assert "answers" in printer.self_test()


def test_out_of_paper_is_reported_and_the_job_canceled(simulated_printer, cupsd: str, pdf: Path) -> None:
    sim = simulated_printer("no-paper")
    printer = A4Printer(PycupsClient(cupsd), sim.queue, job_timeout_s=60)
    job_id = printer.submit(pdf, "report")
    with pytest.raises(OutOfPaperError, match="media-empty"):
        printer.follow(job_id)
    deadline = time.monotonic() + 20
    while not printer.job(job_id).state.terminal and time.monotonic() < deadline:
        time.sleep(0.2)
    assert printer.job(job_id).state in (JobState.CANCELED, JobState.ABORTED)
    with pytest.raises(OutOfPaperError):  # the printer still reports the empty tray
        printer.self_test()


def test_offline_printer_is_reported(simulated_printer, cupsd: str, pdf: Path) -> None:
    sim = simulated_printer("ok")
    sim.power_off()
    printer = A4Printer(PycupsClient(cupsd), sim.queue, job_timeout_s=60, offline_grace_s=2)
    with pytest.raises(PrinterOfflineError, match="does not answer"):
        printer.self_test()
    start = time.monotonic()
    with pytest.raises(PrinterOfflineError, match="does not answer"):
        printer.print_pdf(pdf, "report")
    assert time.monotonic() - start < 20
    assert list(sim.out_dir.iterdir()) == []


def test_missing_queue_and_dead_cupsd_are_our_errors(cupsd: str, pdf: Path, tmp_path: Path) -> None:
    with pytest.raises(QueueNotFoundError):
        A4Printer(PycupsClient(cupsd), "no_such_queue").status()
    with pytest.raises(CupsUnavailableError):
        A4Printer(PycupsClient("127.0.0.1:1"), "report").status()
    not_pdf = tmp_path / "x.pdf"
    not_pdf.write_text("hello")
    with pytest.raises(A4PrinterError, match="not a PDF"):
        A4Printer(PycupsClient(cupsd), "report").submit(not_pdf, "x")


def test_stopped_or_rejecting_queue_refuses_before_submitting(simulated_printer, cupsd: str, pdf: Path) -> None:
    sim = simulated_printer("ok")
    printer = A4Printer(PycupsClient(cupsd), sim.queue)
    subprocess.run(["cupsdisable", "-h", ADMIN_SOCKET, "-r", "maintenance", sim.queue], check=True, timeout=30)
    assert printer.status().state is PrinterState.STOPPED
    with pytest.raises(PrinterStoppedError, match="stopped"):
        printer.submit(pdf, "report")
    subprocess.run(["cupsenable", "-h", ADMIN_SOCKET, sim.queue], check=True, timeout=30)
    subprocess.run(["cupsreject", "-h", ADMIN_SOCKET, sim.queue], check=True, timeout=30)
    with pytest.raises(PrinterStoppedError, match="not accepting jobs"):
        printer.self_test()
    assert list(sim.out_dir.iterdir()) == []
