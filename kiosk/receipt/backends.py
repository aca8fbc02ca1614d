"""Receipt printer backends chosen by configuration: serial (pyserial URL), USB, network, capture.

Every backend is a python-escpos ``Escpos`` whose ``_raw`` sends bytes and whose ``_read``
returns one DLE EOT answer byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from escpos.escpos import Escpos
from escpos.printer import Dummy, Network, Usb

from kiosk.errors import ConfigError, DeviceTimeoutError, DeviceUnavailableError
from kiosk.receipt.commands import PaperLevel, PrinterStatus, StatusQuery, encode_status
from kiosk.receipt.decode import DecodedReceipt, decode
from kiosk.serial_transport import Transport, open_port, port_name, read_available, write_all

DEVICE = "receipt"
STATUS_TIMEOUT_S = 0.5
SERIAL_BAUD = 9600
NETWORK_PORT = 9100
NETWORK_TIMEOUT_S = 5.0
READY = PrinterStatus(online=True, cover_open=False, paper=PaperLevel.OK, cutter_error=False,
                      unrecoverable_error=False)


@dataclass(frozen=True)
class PrinterConfig:
    """``kind``: serial (``url``, ``baudrate``), usb (``usb_vendor``/``usb_product``), network
    (``host``/``port``) or capture (in-memory simulator)."""

    kind: Literal["serial", "usb", "network", "capture"]
    url: str = ""
    baudrate: int = SERIAL_BAUD
    usb_vendor: int = 0
    usb_product: int = 0
    host: str = ""
    port: int = NETWORK_PORT
    timeout_s: float = NETWORK_TIMEOUT_S


class SerialEscpos(Escpos):
    """ESC/POS over a pyserial transport opened from a URL (a real port, a pty, ``socket://``)."""

    def __init__(self, transport: Transport, *, status_timeout_s: float = STATUS_TIMEOUT_S) -> None:
        super().__init__()
        self.transport = transport
        self._status_timeout_s = status_timeout_s

    def _raw(self, msg: bytes) -> None:
        write_all(self.transport, msg, device=DEVICE)

    def _read(self) -> bytes:
        answer = read_available(self.transport, self._status_timeout_s, device=DEVICE)
        if not answer:
            raise DeviceTimeoutError(DEVICE, "no answer to a DLE EOT status request",
                                     port=port_name(self.transport))
        return answer[-1:]

    def close(self) -> None:
        """Close the transport (``open_printer`` opened it for this backend)."""
        close = getattr(self.transport, "close", None)
        if close is not None:
            close()


class CapturePrinter(Dummy):
    """In-memory printer: keeps the byte stream, answers DLE EOT from ``status``, decodes receipts."""

    def __init__(self, status: PrinterStatus = READY) -> None:
        super().__init__()
        self.status = status
        self._pending: list[int] = []

    def _raw(self, msg: bytes) -> None:
        super()._raw(msg)
        answers = encode_status(self.status)
        for query in decode(msg).status_queries if msg.startswith(b"\x10\x04") else []:
            if query in tuple(StatusQuery):
                self._pending.append(answers[query - 1])

    def _read(self) -> bytes:
        return bytes((self._pending.pop(0),)) if self._pending else b""

    def decoded(self) -> DecodedReceipt:
        return decode(self.output)


def open_printer(config: PrinterConfig) -> Escpos:
    """Build the backend ``config`` names; errors name the device and the target."""
    if config.kind == "serial":
        return SerialEscpos(open_port(config.url, device=DEVICE, baudrate=config.baudrate))
    if config.kind == "capture":
        return CapturePrinter()
    try:
        if config.kind == "usb":
            return Usb(config.usb_vendor, config.usb_product)
        if config.kind == "network":
            return Network(config.host, port=config.port, timeout=config.timeout_s)
    except Exception as exc:  # python-escpos raises several unrelated types here
        raise DeviceUnavailableError(DEVICE, f"cannot open {config.kind} printer: {exc}",
                                     port=config.url or config.host or None) from exc
    raise ConfigError(DEVICE, f"unknown printer kind {config.kind!r}")
