"""Receipt printer driver: DLE EOT status, receipts, self-test, over any python-escpos backend."""

from __future__ import annotations

import logging

from escpos.escpos import Escpos
from escpos.exceptions import Error as EscposError

from kiosk.errors import DeviceTimeoutError, KioskDeviceError, PrinterError
from kiosk.receipt.commands import PaperLevel, PrinterStatus, StatusQuery, parse_status, status_request
from kiosk.receipt.layout import Receipt, render

DEVICE = "receipt"
log = logging.getLogger(__name__)


class ReceiptPrinter:
    def __init__(self, printer: Escpos, *, name: str = "") -> None:
        self._printer = printer
        self._name = name or type(printer).__name__

    def status(self) -> PrinterStatus:
        """Real-time status from DLE EOT 1..4."""
        answers = []
        for query in StatusQuery:
            try:
                self._printer._raw(status_request(query))
                answer = self._printer._read()
            except KioskDeviceError:
                raise
            except (OSError, EscposError, NotImplementedError) as exc:
                raise PrinterError(DEVICE, f"status request failed: {exc}", port=self._name) from exc
            if not answer:
                raise DeviceTimeoutError(DEVICE, f"no answer to DLE EOT {int(query)}", port=self._name)
            answers.append(answer[-1])
        try:
            return parse_status(*answers)
        except PrinterError as exc:
            raise PrinterError(DEVICE, exc.message, port=self._name) from exc

    def print_receipt(self, receipt: Receipt) -> PrinterStatus:
        """Print if the printer can; returns the status seen before printing (check ``paper``)."""
        status = self.status()
        if not status.can_print:
            raise PrinterError(DEVICE, f"cannot print: {status.describe()}", port=self._name)
        try:
            render(receipt, self._printer)
        except KioskDeviceError:
            raise
        except (OSError, EscposError, ValueError) as exc:
            raise PrinterError(DEVICE, f"printing failed: {exc}", port=self._name) from exc
        if status.paper is PaperLevel.NEAR_END:
            log.warning("receipt printer %s: paper near end", self._name)
        return status

    def self_test(self) -> str:
        status = self.status()
        if not status.can_print:
            raise PrinterError(DEVICE, status.describe(), port=self._name)
        return f"receipt printer {status.describe()}"
