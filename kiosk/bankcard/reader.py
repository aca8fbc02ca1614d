"""Bank-card reader: wait for a chip card, read it with the PBOC/EMV flow, survive pcscd restarts.

Recovery is a layer over :class:`~kiosk.bankcard.pcsc.PcscClient`: when pcscd goes away (stopped,
restarted) the client's context is dead for good, so the reader drops it, waits for the daemon and
its reader to come back (bounded by ``recovery_s``) and starts the read again from SELECT.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime

from kiosk.bankcard.card_data import BankCardData
from kiosk.bankcard.channel import ReadOnlyChannel
from kiosk.bankcard.emv import UNIONPAY_AIDS, EmvReader
from kiosk.bankcard.errors import (
    BankCardError,
    CardExpiredError,
    CardRemovedError,
    NoCardError,
    PcscServiceLostError,
    PcscUnavailableError,
    StripeOnlyCardError,
)
from kiosk.bankcard.pcsc import STATE_MUTE, STATE_PRESENT, PcscClient
from kiosk.bankcard.slot import CardSlot

DEFAULT_CARD_WAIT_S = 30.0
DEFAULT_RECOVERY_S = 10.0
DEFAULT_CHIP_GRACE_S = 2.0
POLL_SLICE_S = 0.25
BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 1.0
MAX_READ_ATTEMPTS = 3
log = logging.getLogger(__name__)


class BankCardReader:
    def __init__(self, client: PcscClient, *, reader_name: str | None = None, slot: CardSlot | None = None,
                 aid_candidates: Sequence[bytes] = UNIONPAY_AIDS, recovery_s: float = DEFAULT_RECOVERY_S,
                 chip_grace_s: float = DEFAULT_CHIP_GRACE_S, reject_expired: bool = True,
                 clock: Callable[[], datetime] = datetime.now) -> None:
        self._client = client
        self._reader_name = reader_name
        self._slot = slot
        self._candidates = tuple(aid_candidates)
        self._recovery_s = recovery_s
        self._chip_grace_s = chip_grace_s
        self._reject_expired = reject_expired
        self._clock = clock
        self.recoveries = 0

    @property
    def port(self) -> str:
        return self._reader_name or "first PC/SC reader"

    # --- reader discovery and recovery --------------------------------------------------------------
    def reader(self) -> str:
        readers = self._client.list_readers()
        for name in readers:
            if self._reader_name is None or name == self._reader_name or name.startswith(self._reader_name):
                return name
        raise PcscUnavailableError(f"reader {self.port!r} not found (pcscd lists {readers or 'no readers'})",
                                   port=self.port)

    def _recover(self, cause: BankCardError) -> str:
        """Fresh context and reader after pcscd went away; PcscUnavailableError past ``recovery_s``."""
        self.recoveries += 1
        log.warning("PC/SC service lost (%s); re-establishing the context", cause.message)
        deadline = time.monotonic() + self._recovery_s
        delay = BACKOFF_FIRST_S
        while True:
            try:
                self._client.reestablish()
                return self.reader()
            except PcscUnavailableError as exc:
                if time.monotonic() + delay > deadline:
                    raise PcscUnavailableError(f"pcscd or the reader did not come back within "
                                               f"{self._recovery_s:.0f} s: {exc.message}", port=self.port) from exc
            time.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)

    def _resilient_reader(self) -> str:
        try:
            return self.reader()
        except PcscUnavailableError as exc:
            return self._recover(exc)

    # --- card presence -------------------------------------------------------------------------------
    def card_present(self) -> bool:
        return bool(self._client.card_state(self._resilient_reader(), 0) & STATE_PRESENT)

    def wait_for_card(self, timeout_s: float = DEFAULT_CARD_WAIT_S) -> str:
        """Wait for a chip card; returns the reader name. Stripe-only / mute cards are refused."""
        deadline = time.monotonic() + timeout_s
        reader = self._resilient_reader()
        slot_since: float | None = None
        while True:
            try:
                state = self._client.card_state(reader, min(POLL_SLICE_S, max(deadline - time.monotonic(), 0)))
            except PcscServiceLostError as exc:
                reader = self._recover(exc)
                continue
            if state & STATE_MUTE:
                raise StripeOnlyCardError("the card in the reader does not answer (no chip or a dead chip); "
                                          "magnetic-stripe-only cards are not accepted", port=reader)
            if state & STATE_PRESENT:
                return reader
            now = time.monotonic()
            if self._slot is not None and self._slot.card_inside():
                slot_since = slot_since or now
                if now - slot_since >= self._chip_grace_s:
                    raise StripeOnlyCardError("a card is in the slot but no chip answers: magnetic-stripe-only "
                                              "cards are not accepted, please use a chip card", port=reader)
            else:
                slot_since = None
            if now >= deadline:
                raise NoCardError(f"no chip card presented within {timeout_s:.0f} s", port=reader)

    # --- reading ---------------------------------------------------------------------------------------
    def read_card(self, timeout_s: float = DEFAULT_CARD_WAIT_S) -> BankCardData:
        """Wait for a card and read it; retried from the start if pcscd restarts underneath."""
        deadline = time.monotonic() + timeout_s
        restarts = 0
        while True:
            reader = self.wait_for_card(max(deadline - time.monotonic(), 0))
            try:
                data = self._read_once(reader)
                break
            except (CardRemovedError, StripeOnlyCardError) as exc:
                # a card swapped or pulled while pcscd still showed it: wait for the next one
                if not exc.connecting or time.monotonic() >= deadline:
                    raise
                time.sleep(POLL_SLICE_S)
            except PcscServiceLostError as exc:
                restarts += 1
                if restarts >= MAX_READ_ATTEMPTS:
                    raise
                self._recover(exc)
        if self._reject_expired and data.expired(self._today()):
            raise CardExpiredError(f"card expired on {data.expiry.isoformat()}; please use a valid card",
                                   port=self.port)
        return data

    def _today(self) -> date:
        return self._clock().date()

    def _read_once(self, reader: str) -> BankCardData:
        try:
            card = self._client.connect(reader)
        except (CardRemovedError, StripeOnlyCardError) as exc:
            exc.connecting = True
            raise
        try:
            return EmvReader(ReadOnlyChannel(card), aid_candidates=self._candidates, clock=self._clock).read()
        finally:
            card.disconnect()

    def self_test(self) -> str:
        """Harmless round trip: pcscd answers, the configured reader is listed, its card state is read."""
        try:
            reader = self.reader()
        except PcscServiceLostError as exc:
            raise PcscUnavailableError(f"pcscd does not answer: {exc.message}", port=self.port) from exc
        state = self._client.card_state(reader, 0)
        return f"reader {reader!r}, card {'present' if state & STATE_PRESENT else 'absent'}"
