"""Bank-card reader errors: every PC/SC, card and data failure as a ``KioskDeviceError``."""

from __future__ import annotations

from kiosk.errors import (
    CardDataError,
    DeviceTimeoutError,
    DeviceUnavailableError,
    KioskDeviceError,
    SecurityError,
)

DEVICE = "bankcard"


class BankCardError(KioskDeviceError):
    """Base class of the bank-card reader errors."""

    def __init__(self, message: str, *, port: str | None = None) -> None:
        super().__init__(DEVICE, message, port=port)
        self.connecting = False  # raised while connecting to the card (not during the read)


class TlvError(BankCardError, CardDataError):
    """BER-TLV data from the card could not be parsed or built."""


class CardReadError(BankCardError, CardDataError):
    """The card answered, but not with what a PBOC/EMV card must answer."""


class PcscUnavailableError(BankCardError, DeviceUnavailableError):
    """pcscd is not running or the configured reader is not there."""


class PcscServiceLostError(PcscUnavailableError):
    """pcscd went away (stopped, restarted) under an open context or card handle."""


class CardRemovedError(BankCardError, CardDataError):
    """The card was removed (or reset) during the read."""


class NoCardError(BankCardError, DeviceTimeoutError):
    """No chip card was presented within the wait."""


class CardTimeoutError(BankCardError, DeviceTimeoutError):
    """The card did not answer an APDU within the timeout."""


class StripeOnlyCardError(BankCardError, CardDataError):
    """The card has no chip, the chip does not answer, or it has no payment application."""


class CardExpiredError(BankCardError, CardDataError):
    """The card's application expiry date has passed."""


class ForbiddenCommandError(BankCardError, SecurityError):
    """A command outside the read-only set (GENERATE AC, VERIFY, ...) was refused before sending."""
