from __future__ import annotations

from kiosk.a4printer.errors import OutOfPaperError, PrinterOfflineError, PrinterStoppedError
from kiosk.a4printer.printer import fault_error
from kiosk.a4printer.status import (
    JobState,
    PrinterState,
    normalise_reasons,
    parse_job_attributes,
    parse_printer_attributes,
)


def attrs(state: int = 3, reasons: object = ("none",), accepting: bool = True, message: str = "") -> dict:
    return {"printer-state": state, "printer-state-reasons": list(reasons), "printer-state-message": message,
            "printer-is-accepting-jobs": accepting, "device-uri": "ipp://10.0.0.9/ipp/print"}


def test_reasons_lose_severity_suffix_and_none() -> None:
    assert normalise_reasons(["none"]) == ()
    assert normalise_reasons(["media-empty-warning", "media-needed-error", "offline-report", "media-empty"]) == (
        "media-empty", "media-needed", "offline")
    assert normalise_reasons("cups-waiting-for-job-completed") == ("cups-waiting-for-job-completed",)
    assert normalise_reasons(None) == ()


def test_printer_status_classification() -> None:
    idle = parse_printer_attributes("report", attrs())
    assert idle.state is PrinterState.IDLE and idle.ready and fault_error(idle, port="p") is None
    assert idle.device_uri == "ipp://10.0.0.9/ipp/print"
    paper = parse_printer_attributes("report", attrs(4, ["media-empty-warning", "media-needed-warning"]))
    assert paper.out_of_paper and isinstance(fault_error(paper, port="p"), OutOfPaperError)
    offline = parse_printer_attributes("report", attrs(3, ["offline-report"]))
    assert offline.offline and isinstance(fault_error(offline, port="p"), PrinterOfflineError)
    stopped = parse_printer_attributes("report", attrs(5, ["paused"], message="Paused"))
    error = fault_error(stopped, port="p")
    assert isinstance(error, PrinterStoppedError) and "stopped, reasons: paused" in str(error)
    refusing = parse_printer_attributes("report", attrs(accepting=False))
    assert isinstance(fault_error(refusing, port="p"), PrinterStoppedError)
    jam = parse_printer_attributes("report", attrs(4, ["media-jam-error"]))
    assert jam.faults == ("media-jam",) and not jam.ready


def test_bad_attributes_never_crash() -> None:
    status = parse_printer_attributes("q", {"printer-state": "garbage"})
    assert status.state is PrinterState.STOPPED and not status.accepting
    job = parse_job_attributes(7, {"job-state": 9, "job-printer-state-message": "done"})
    assert job.state is JobState.COMPLETED and job.state.terminal and job.message == "done"
    assert parse_job_attributes(7, {}).state is JobState.PENDING
