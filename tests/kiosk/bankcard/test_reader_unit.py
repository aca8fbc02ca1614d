"""Reader policy with a fake PC/SC client: error mapping, recovery, stripe-only detection, timeouts."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from smartcard import scard

from kiosk.bankcard import BankCardReader
from kiosk.bankcard.card_profiles import PROFILES
from kiosk.bankcard.errors import (
    BankCardError,
    CardRemovedError,
    CardTimeoutError,
    NoCardError,
    PcscServiceLostError,
    PcscUnavailableError,
    StripeOnlyCardError,
)
from kiosk.bankcard.pcsc import STATE_MUTE, STATE_PRESENT, call_with_timeout, check
from kiosk.bankcard.virtual_card import VirtualPbocCard

READER = "Fake Reader 00"


@pytest.mark.parametrize(("code", "error"), [
    (scard.SCARD_E_NO_SERVICE, PcscServiceLostError), (scard.SCARD_E_SERVICE_STOPPED, PcscServiceLostError),
    (scard.SCARD_E_UNKNOWN_READER, PcscUnavailableError), (scard.SCARD_W_REMOVED_CARD, CardRemovedError),
    (scard.SCARD_W_UNRESPONSIVE_CARD, StripeOnlyCardError), (scard.SCARD_E_TIMEOUT, CardTimeoutError),
    (scard.SCARD_E_INVALID_PARAMETER, BankCardError),
])
def test_pcsc_codes_map_to_our_errors(code: int, error: type) -> None:
    with pytest.raises(error, match=f"0x{code & 0xFFFFFFFF:08X}"):
        check(code, "op")
    check(scard.SCARD_S_SUCCESS, "op")


def test_blocking_call_is_bounded() -> None:
    release = threading.Event()
    with pytest.raises(CardTimeoutError, match="no answer within 0.1 s"):
        call_with_timeout(lambda: release.wait(5), 0.1, "transmit")
    release.set()
    assert call_with_timeout(lambda: 7, 1.0, "x") == 7
    with pytest.raises(ZeroDivisionError):
        call_with_timeout(lambda: 1 // 0, 1.0, "x")


class FakeCard:
    def __init__(self, card: VirtualPbocCard, client: FakeClient) -> None:
        self.card, self.client = card, client

    def transmit(self, command: bytes) -> bytes:
        if self.client.die_on_transmit:
            self.client.die_on_transmit -= 1
            self.client.alive = False
            raise PcscServiceLostError("transmit: Service not available")
        return self.card.process(command)

    def disconnect(self) -> None:
        self.client.disconnects += 1


class FakeClient:
    """Answers like PcscClient; ``alive`` False plays a stopped pcscd until ``reestablish``."""

    def __init__(self, state: int = STATE_PRESENT, profile: str = "pse") -> None:
        self.state = state
        self.card = VirtualPbocCard(PROFILES[profile])
        self.alive = True
        self.contexts = 1
        self.die_on_transmit = 0
        self.disconnects = 0
        self.down_for = 0  # reestablish attempts that still fail

    def _check(self) -> None:
        if not self.alive:
            raise PcscServiceLostError("Service not available")

    def reestablish(self) -> None:
        if self.down_for:
            self.down_for -= 1
            raise PcscServiceLostError("Service not available")
        self.alive = True
        self.contexts += 1

    def list_readers(self) -> list[str]:
        self._check()
        return [READER]

    def card_state(self, reader: str, timeout_s: float, known_state: int = 0) -> int:
        self._check()
        return self.state

    def connect(self, reader: str) -> FakeCard:
        self._check()
        return FakeCard(self.card, self)


def reader(client: FakeClient, **kwargs: object) -> BankCardReader:
    return BankCardReader(client, reader_name="Fake", clock=lambda: datetime(2026, 11, 25), recovery_s=2,
                          **kwargs)  # type: ignore[arg-type]


def test_read_recovers_when_the_service_dies_mid_read() -> None:
    client = FakeClient()
    client.die_on_transmit = 1
    client.down_for = 2
    r = reader(client)
    assert r.read_card(timeout_s=1).pan == PROFILES["pse"].pan
    assert r.recoveries == 1 and client.contexts == 2 and client.disconnects == 2


def test_service_that_never_returns_is_a_clear_error() -> None:
    client = FakeClient()
    client.alive = False
    client.down_for = 10_000
    with pytest.raises(PcscUnavailableError, match="did not come back within 0 s"):
        BankCardReader(client, recovery_s=0.3).read_card(timeout_s=1)  # type: ignore[arg-type]


def test_mute_state_is_stripe_only_and_empty_reader_times_out() -> None:
    with pytest.raises(StripeOnlyCardError, match="does not answer"):
        reader(FakeClient(state=STATE_MUTE | STATE_PRESENT)).read_card(timeout_s=1)
    with pytest.raises(NoCardError, match="no chip card presented within 0 s"):
        reader(FakeClient(state=0)).read_card(timeout_s=0.2)


def test_slot_with_card_but_no_chip_is_stripe_only() -> None:
    class Slot:
        def card_inside(self) -> bool:
            return True

    with pytest.raises(StripeOnlyCardError, match="no chip answers"):
        reader(FakeClient(state=0), slot=Slot(), chip_grace_s=0.1).read_card(timeout_s=5)


def test_unknown_reader() -> None:
    with pytest.raises(PcscUnavailableError, match="reader 'Other' not found"):
        BankCardReader(FakeClient(), reader_name="Other", recovery_s=0).card_present()  # type: ignore[arg-type]
