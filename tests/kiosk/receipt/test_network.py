"""Network (raw TCP 9100-style) backend against a local capture server on an ephemeral port."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from kiosk.errors import PrinterError
from kiosk.receipt.backends import READY, PrinterConfig, open_printer
from kiosk.receipt.commands import encode_status
from kiosk.receipt.decode import decode
from kiosk.receipt.driver import ReceiptPrinter

from .test_layout import EXPECTED_LINES, _receipt

pytestmark = pytest.mark.integration
DLE_EOT = b"\x10\x04"


class CaptureServer:
    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        answers = encode_status(READY)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            scanned = 0
            while chunk := conn.recv(4096):
                self.received += chunk
                while (i := self.received.find(DLE_EOT, scanned)) >= 0 and i + 2 < len(self.received):
                    conn.sendall(bytes((answers[self.received[i + 2] - 1],)))
                    scanned = i + 3
                if self.received.endswith(b"\x1dV\x00"):
                    self.done.set()

    def stop(self) -> None:
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[CaptureServer]:
    srv = CaptureServer()
    yield srv
    srv.stop()


def test_network_printer_prints_a_receipt(server: CaptureServer) -> None:
    backend = open_printer(PrinterConfig(kind="network", host="127.0.0.1", port=server.port, timeout_s=2))
    try:
        printer = ReceiptPrinter(backend, name=f"127.0.0.1:{server.port}")
        assert printer.self_test() == "receipt printer ready"
        printer.print_receipt(_receipt())
        assert server.done.wait(5)
    finally:
        backend.close()
    assert [line for line in decode(bytes(server.received)).lines if line] == EXPECTED_LINES


def test_unreachable_network_printer_is_a_printer_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        closed_port = probe.getsockname()[1]
    backend = open_printer(PrinterConfig(kind="network", host="127.0.0.1", port=closed_port, timeout_s=1))
    with pytest.raises(PrinterError, match="status request failed") as err:
        ReceiptPrinter(backend, name=f"127.0.0.1:{closed_port}").status()
    assert err.value.port == f"127.0.0.1:{closed_port}"
