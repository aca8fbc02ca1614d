"""Serial receipt-printer simulator on a pty: captures the ESC/POS stream, answers DLE EOT."""

from __future__ import annotations

import threading
import time

from kiosk.errors import DeviceTimeoutError, PrinterError
from kiosk.receipt.backends import READY
from kiosk.receipt.commands import EOT, PrinterStatus, encode_status
from kiosk.receipt.decode import DLE, DecodedReceipt, decode
from kiosk.serial_transport import PtyServer, serve_until_signal

MAX_CAPTURE_BYTES = 1 << 20
WAIT_POLL_S = 0.01


class PrinterHandle:
    """``port_url``, ``status`` (settable), ``received`` bytes, ``decoded()``, ``stop()``."""

    def __init__(self, status: PrinterStatus = READY) -> None:
        self.status = status
        self._lock = threading.Lock()
        self._received = bytearray()
        self._scan_from = 0
        self.overflowed = 0
        self._server = PtyServer(self._on_bytes, name="receipt")
        self.port_url = self._server.port_url

    def _on_bytes(self, data: bytes) -> None:
        with self._lock:
            room = MAX_CAPTURE_BYTES - len(self._received)
            if room < len(data):
                self.overflowed += len(data) - max(room, 0)
            self._received.extend(data[:max(room, 0)])
            answers = encode_status(self.status)
            # real printers scan the incoming stream for DLE EOT n and answer at once
            while (i := self._received.find(bytes((DLE,)) + EOT, self._scan_from)) >= 0:
                if i + 2 >= len(self._received):
                    break
                query = self._received[i + 2]
                if 1 <= query <= len(answers):
                    self._server.write(bytes((answers[query - 1],)))
                self._scan_from = i + 3

    @property
    def received(self) -> bytes:
        with self._lock:
            return bytes(self._received)

    def decoded(self) -> DecodedReceipt:
        return decode(self.received)

    def wait_for_cuts(self, cuts: int = 1, timeout_s: float = 2.0) -> DecodedReceipt:
        """Wait until ``cuts`` paper cuts have arrived (a whole receipt); returns the decoding."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                decoded = self.decoded()
                if decoded.cuts >= cuts:
                    return decoded
            except PrinterError:
                pass  # mid-command: more bytes are on their way
            if time.monotonic() > deadline:
                raise DeviceTimeoutError("receipt", f"simulator saw fewer than {cuts} cut(s)", port=self.port_url)
            time.sleep(WAIT_POLL_S)

    def stop(self) -> None:
        self._server.stop()


def start_on_pty(status: PrinterStatus = READY) -> PrinterHandle:
    """Start a serial receipt printer simulator; open ``handle.port_url`` with a serial backend."""
    return PrinterHandle(status)


if __name__ == "__main__":
    serve_until_signal(start_on_pty(), "receipt")
