"""Kiosk exception hierarchy.

Every driver, codec and simulator in ``kiosk`` raises one of these; library errors
(pyserial, cryptography, python-escpos, pyscard, CUPS) are wrapped with ``raise ... from``
at the boundary so callers never see a third-party type.  Each error names the device
(and, where known, the port) so a technician can act on the message.
"""

from __future__ import annotations


class KioskDeviceError(Exception):
    """Base class: something went wrong with a kiosk peripheral.

    ``device`` is a short device name (``"idcard"``, ``"epp"``, ``"ioboard"``, ``"receipt"``,
    ``"bankcard"``, ``"a4printer"``, ``"touch"``); ``port`` is the transport URL or path when known.
    """

    def __init__(self, device: str, message: str, *, port: str | None = None) -> None:
        self.device = device
        self.message = message
        self.port = port
        where = f" on {port}" if port else ""
        super().__init__(f"{device}{where}: {message}")


class DeviceUnavailableError(KioskDeviceError):
    """The device cannot be opened or is not connected."""


class DeviceTimeoutError(KioskDeviceError):
    """The device did not answer within the allotted time."""


class FrameError(KioskDeviceError):
    """A frame could not be parsed: bad preamble, length, checksum or layout."""


class DeviceStatusError(KioskDeviceError):
    """The device answered with a status that reports failure.

    ``status`` carries the raw status code of the device's protocol.
    """

    def __init__(self, device: str, message: str, *, status: int, port: str | None = None) -> None:
        self.status = status
        super().__init__(device, message, port=port)


class CardDataError(KioskDeviceError):
    """Data read from a card (ID card, bank card) failed validation."""


class SecurityError(KioskDeviceError):
    """A security rule was violated or enforced: key check failed, locked out, refused."""


class PrinterError(KioskDeviceError):
    """A printer failed: paper out, cover open, cutter error, spooler refused the job."""


class ConfigError(KioskDeviceError):
    """A device's configuration (URL, backend, key slot) is invalid."""
