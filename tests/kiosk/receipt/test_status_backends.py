"""DLE EOT status, backends by config, driver over the capture backend and a serial pty."""

from __future__ import annotations

import os
import pty
from collections.abc import Iterator

import pytest

from kiosk.errors import ConfigError, DeviceTimeoutError, DeviceUnavailableError, PrinterError
from kiosk.receipt.backends import READY, CapturePrinter, PrinterConfig, SerialEscpos, open_printer
from kiosk.receipt.commands import (
    PaperLevel,
    PrinterStatus,
    StatusQuery,
    encode_status,
    parse_status,
    status_request,
)
from kiosk.receipt.driver import ReceiptPrinter
from kiosk.receipt.simulator import PrinterHandle, start_on_pty

from .test_layout import EXPECTED_LINES, _receipt

PAPER_OK, PAPER_NEAR_END, PAPER_OUT = 0x12, 0x1E, 0x7E  # DLE EOT 4 answers (Epson bit layout)
PRINTER_ONLINE, PRINTER_OFFLINE = 0x12, 0x1A
NEAR_END = PrinterStatus(True, False, PaperLevel.NEAR_END, False, False)
OUT = PrinterStatus(True, False, PaperLevel.OUT, False, False)


def test_status_request_bytes() -> None:
    assert status_request(StatusQuery.PAPER) == b"\x10\x04\x04"
    assert status_request(StatusQuery.PRINTER) == b"\x10\x04\x01"


def test_parse_status_bytes() -> None:
    assert parse_status(PRINTER_ONLINE, 0x12, 0x12, PAPER_OK) == READY
    assert parse_status(PRINTER_ONLINE, 0x12, 0x12, PAPER_NEAR_END).paper is PaperLevel.NEAR_END
    status = parse_status(PRINTER_OFFLINE, 0x32, 0x12, PAPER_OUT)
    assert status.paper is PaperLevel.OUT and not status.online and not status.can_print
    assert encode_status(OUT)[3] == PAPER_OUT and encode_status(NEAR_END)[3] == PAPER_NEAR_END
    with pytest.raises(PrinterError, match="invalid DLE EOT 4"):
        parse_status(0x12, 0x12, 0x12, 0x00)


def test_capture_backend_prints_and_reports() -> None:
    capture = CapturePrinter()
    printer = ReceiptPrinter(capture)
    assert printer.self_test() == "receipt printer ready"
    printer.print_receipt(_receipt())
    assert [line for line in capture.decoded().lines if line] == EXPECTED_LINES
    capture.status = OUT
    with pytest.raises(PrinterError, match="paper out"):
        printer.print_receipt(_receipt())
    with pytest.raises(PrinterError, match="paper out"):
        printer.self_test()


def test_open_printer_by_config() -> None:
    assert isinstance(open_printer(PrinterConfig(kind="capture")), CapturePrinter)
    with pytest.raises(DeviceUnavailableError, match="receipt on /nonexistent/tty"):
        open_printer(PrinterConfig(kind="serial", url="/nonexistent/tty"))
    with pytest.raises(ConfigError):
        open_printer(PrinterConfig(kind="parallel"))  # type: ignore[arg-type]


@pytest.fixture
def sim() -> Iterator[PrinterHandle]:
    handle = start_on_pty()
    yield handle
    handle.stop()


@pytest.mark.integration
def test_serial_printer_on_pty(sim: PrinterHandle, open_pty_port, caplog: pytest.LogCaptureFixture) -> None:
    printer = ReceiptPrinter(SerialEscpos(open_pty_port(sim.port_url, "receipt")), name=sim.port_url)
    assert printer.self_test() == "receipt printer ready"
    sim.status = NEAR_END
    assert printer.print_receipt(_receipt()).paper is PaperLevel.NEAR_END
    assert "paper near end" in caplog.text
    decoded = sim.wait_for_cuts(1)
    assert [line for line in decoded.lines if line] == EXPECTED_LINES
    assert decoded.status_queries == [1, 2, 3, 4] * 2
    sim.status = OUT
    with pytest.raises(PrinterError, match="paper out") as err:
        printer.print_receipt(_receipt())
    assert err.value.port == sim.port_url


@pytest.mark.integration
def test_silent_serial_printer_times_out(open_pty_port) -> None:
    master, slave = pty.openpty()
    try:
        port = open_pty_port(os.ttyname(slave), "receipt")
        printer = ReceiptPrinter(SerialEscpos(port, status_timeout_s=0.1), name="tty")
        with pytest.raises(DeviceTimeoutError, match="no answer to a DLE EOT status request"):
            printer.status()
    finally:
        os.close(master)
        os.close(slave)
