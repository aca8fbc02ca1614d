"""A4 printer errors: CUPS/IPP failures and printer faults as ``KioskDeviceError`` subclasses."""

from __future__ import annotations

from kiosk.errors import ConfigError, DeviceTimeoutError, DeviceUnavailableError, PrinterError

DEVICE = "a4printer"


class A4PrinterError(PrinterError):
    def __init__(self, message: str, *, port: str | None = None) -> None:
        super().__init__(DEVICE, message, port=port)


class CupsUnavailableError(A4PrinterError, DeviceUnavailableError):
    """cupsd does not answer."""


class QueueNotFoundError(A4PrinterError, ConfigError):
    """The configured queue does not exist in CUPS."""


class PrinterOfflineError(A4PrinterError, DeviceUnavailableError):
    """The printer behind the queue does not answer (off, unplugged, network down)."""


class OutOfPaperError(A4PrinterError):
    """The printer reports media-empty / media-needed."""


class PrinterStoppedError(A4PrinterError):
    """The queue is stopped or not accepting jobs, or the printer reports another fault."""


class JobFailedError(A4PrinterError):
    """The job was aborted or canceled."""


class JobTimeoutError(A4PrinterError, DeviceTimeoutError):
    """The job did not complete within the allotted time."""
