"""A thin PC/SC client over pyscard's ``smartcard.scard`` layer: one context, our errors, timeouts.

Every call that may block has a bound: SCardGetStatusChange takes its own timeout; connect and
transmit run on a helper thread and give up after ``call_timeout_s``. PC/SC return codes are
mapped to :mod:`kiosk.bankcard.errors`; the service-lost codes raise ``PcscServiceLostError`` so
that the recovery layer (:mod:`kiosk.bankcard.reader`) can establish a fresh context, which
pyscard's own global context never does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from smartcard import scard

from kiosk.bankcard.errors import (
    BankCardError,
    CardRemovedError,
    CardTimeoutError,
    PcscServiceLostError,
    PcscUnavailableError,
    StripeOnlyCardError,
)

DEFAULT_CALL_TIMEOUT_S = 5.0
MS_PER_S = 1000
HRESULT_MASK = 0xFFFFFFFF
SERVICE_LOST = frozenset({scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED,
                          scard.SCARD_E_INVALID_HANDLE, scard.SCARD_F_COMM_ERROR})
READER_GONE = frozenset({scard.SCARD_E_NO_READERS_AVAILABLE, scard.SCARD_E_UNKNOWN_READER,
                         scard.SCARD_E_READER_UNAVAILABLE})
CARD_GONE = frozenset({scard.SCARD_W_REMOVED_CARD, scard.SCARD_W_RESET_CARD, scard.SCARD_E_NO_SMARTCARD,
                       scard.SCARD_E_COMM_DATA_LOST})
CARD_MUTE = frozenset({scard.SCARD_W_UNRESPONSIVE_CARD, scard.SCARD_W_UNPOWERED_CARD})
STATE_PRESENT = scard.SCARD_STATE_PRESENT
STATE_MUTE = scard.SCARD_STATE_MUTE
STATE_UNAWARE = scard.SCARD_STATE_UNAWARE
T = TypeVar("T")


def _code(hresult: int) -> int:
    return hresult & HRESULT_MASK


def check(hresult: int, what: str) -> None:
    """Raise the error type matching a PC/SC return code (nothing on success)."""
    code = _code(hresult)
    if code == scard.SCARD_S_SUCCESS:
        return
    text = f"{what}: {scard.SCardGetErrorMessage(hresult)} (0x{code:08X})"
    if code in SERVICE_LOST:
        raise PcscServiceLostError(f"{text}; is pcscd running?")
    if code in READER_GONE:
        raise PcscUnavailableError(text)
    if code in CARD_GONE:
        raise CardRemovedError(text)
    if code in CARD_MUTE:
        raise StripeOnlyCardError(f"{text}: the card has no chip or the chip does not answer; "
                                  "magnetic-stripe-only cards are not accepted")
    if code == scard.SCARD_E_TIMEOUT:
        raise CardTimeoutError(text)
    raise BankCardError(text)


def call_with_timeout(fn: Callable[[], T], timeout_s: float, what: str) -> T:
    """Run a blocking PC/SC call on a daemon thread; CardTimeoutError if it does not return."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=target, name="pcsc-call", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise CardTimeoutError(f"{what}: no answer within {timeout_s:.1f} s")
    if "error" in box:
        raise box["error"]
    return box["result"]  # type: ignore[no-any-return]


class PcscCard:
    """A connected card: the transport the read-only channel sends APDUs through."""

    def __init__(self, handle: int, protocol: int, reader: str, call_timeout_s: float) -> None:
        self._handle = handle
        self._protocol = protocol
        self.reader = reader
        self._timeout_s = call_timeout_s

    def transmit(self, command: bytes) -> bytes:
        def do() -> tuple[int, list[int]]:
            return scard.SCardTransmit(self._handle, self._protocol, list(command))  # type: ignore[no-any-return]

        hresult, response = call_with_timeout(do, self._timeout_s, "transmit")
        check(hresult, f"transmit on {self.reader}")
        return bytes(response)

    def disconnect(self, *, unpower: bool = True) -> None:
        disposition = scard.SCARD_UNPOWER_CARD if unpower else scard.SCARD_LEAVE_CARD
        try:
            call_with_timeout(lambda: scard.SCardDisconnect(self._handle, disposition),
                              self._timeout_s, "disconnect")
        except BankCardError:
            return  # the handle is gone with its card or its daemon: nothing left to release


class PcscClient:
    """One PC/SC context. ``reestablish()`` drops it and opens a new one (pcscd restarted)."""

    def __init__(self, *, call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S) -> None:
        self._context: int | None = None
        self._timeout_s = call_timeout_s
        self.contexts_established = 0

    def _ctx(self) -> int:
        if self._context is None:
            hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            check(hresult, "establish PC/SC context")
            self._context = context
            self.contexts_established += 1
        return self._context

    def release(self) -> None:
        if self._context is not None:
            scard.SCardReleaseContext(self._context)
            self._context = None

    def reestablish(self) -> None:
        self.release()
        self._ctx()

    def list_readers(self) -> list[str]:
        hresult, readers = scard.SCardListReaders(self._ctx(), [])
        if _code(hresult) == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        check(hresult, "list readers")
        return list(readers)

    def card_state(self, reader: str, timeout_s: float, known_state: int = STATE_UNAWARE) -> int:
        """Event state of ``reader`` after waiting up to ``timeout_s`` for a change from ``known_state``."""
        hresult, states = scard.SCardGetStatusChange(self._ctx(), int(timeout_s * MS_PER_S),
                                                     [(reader, known_state)])
        if _code(hresult) == scard.SCARD_E_TIMEOUT:
            return known_state
        check(hresult, f"status of {reader}")
        return int(states[0][1])

    def connect(self, reader: str) -> PcscCard:
        context = self._ctx()

        def do() -> tuple[int, int, int]:
            return scard.SCardConnect(context, reader, scard.SCARD_SHARE_SHARED,  # type: ignore[no-any-return]
                                      scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)

        hresult, handle, protocol = call_with_timeout(do, self._timeout_s, f"connect to {reader}")
        check(hresult, f"connect to {reader}")
        return PcscCard(handle, protocol, reader, self._timeout_s)
