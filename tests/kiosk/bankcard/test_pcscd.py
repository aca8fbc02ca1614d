"""Through the real stack: pyscard -> pcscd -> vpcd driver -> TCP -> our virtual PBOC card."""

from __future__ import annotations

import time

import pytest

from kiosk.bankcard import BankCardReader, PcscClient
from kiosk.bankcard import apdu as a
from kiosk.bankcard.card_profiles import PROFILES
from kiosk.bankcard.channel import READ_ONLY_COMMANDS
from kiosk.bankcard.errors import CardExpiredError, NoCardError, PcscUnavailableError, StripeOnlyCardError
from kiosk.bankcard.virtual_card import VirtualPbocCard
from tests.kiosk.bankcard.conftest import VIRTUAL_READER, restart_pcscd, wait_removed

pytestmark = pytest.mark.integration


class SlotWithCard:
    """The I/O board's sensors say a card is at the read position."""

    def card_inside(self) -> bool:
        return True


@pytest.mark.parametrize("profile", ["pse", "ppse-only", "aid-fallback", "t0", "no-id"])
def test_insert_read_remove(reader: BankCardReader, insert_card, profile: str) -> None:
    card = VirtualPbocCard(PROFILES[profile])
    link = insert_card(card)
    data = reader.read_card(timeout_s=10)
    assert data.pan == PROFILES[profile].pan
    assert data.cardholder_id_number == PROFILES[profile].id_number
    assert set(card.instructions_seen) <= READ_ONLY_COMMANDS
    assert card.atc == 1
    link.remove()
    wait_removed(reader)


def test_expired_card_is_refused(reader: BankCardReader, insert_card) -> None:
    insert_card("expired")
    with pytest.raises(CardExpiredError, match="expired on 2023-05-31"):
        reader.read_card(timeout_s=10)


def test_no_card_times_out_clearly(reader: BankCardReader) -> None:
    start = time.monotonic()
    with pytest.raises(NoCardError, match="no chip card presented within 1 s"):
        reader.read_card(timeout_s=1)
    assert time.monotonic() - start < 3


def test_mute_card_in_the_slot_is_refused_as_stripe_only(pcscd: None, insert_card) -> None:
    link = insert_card("mute")
    reader = BankCardReader(PcscClient(), reader_name=VIRTUAL_READER, slot=SlotWithCard(), chip_grace_s=0.5)
    with pytest.raises(StripeOnlyCardError, match="magnetic-stripe-only"):
        reader.read_card(timeout_s=5)
    assert link.connections >= 1  # the card was there; vpcd dropped it for giving no ATR


def test_chip_without_payment_application_is_refused(reader: BankCardReader, insert_card) -> None:
    insert_card("no-application")
    with pytest.raises(StripeOnlyCardError, match="no UnionPay/EMV payment application"):
        reader.read_card(timeout_s=10)


def test_unknown_reader_name_is_a_clear_error(pcscd: None) -> None:
    reader = BankCardReader(PcscClient(), reader_name="No Such Reader", recovery_s=0.5)
    with pytest.raises(PcscUnavailableError, match="No Such Reader"):
        reader.self_test()


def test_self_test_reports_reader_and_card(reader: BankCardReader, insert_card) -> None:
    assert reader.self_test() == f"reader '{VIRTUAL_READER}', card absent"
    insert_card("pse").wait_connected(5)
    deadline = time.monotonic() + 5
    while not reader.card_present() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert reader.self_test() == f"reader '{VIRTUAL_READER}', card present"


@pytest.mark.slow
def test_reader_recovers_after_pcscd_restart_between_reads(reader: BankCardReader, insert_card) -> None:
    insert_card("pse")
    assert reader.read_card(timeout_s=10).pan == PROFILES["pse"].pan
    restart_pcscd()
    assert reader.read_card(timeout_s=10).pan == PROFILES["pse"].pan
    assert reader.recoveries >= 1


class RestartingCard(VirtualPbocCard):
    """Restarts pcscd while the kiosk is in the middle of reading the application records."""

    def __init__(self) -> None:
        super().__init__(PROFILES["pse"])
        self.restarted = False

    def process(self, raw: bytes) -> bytes:
        if not self.restarted and raw[1] == a.INS_READ_RECORD and raw[3] >> a.SFI_SHIFT == 2:
            self.restarted = True
            restart_pcscd()  # our answer is lost with the old daemon
        return super().process(raw)


@pytest.mark.slow
def test_reader_recovers_from_pcscd_restart_mid_session(reader: BankCardReader, insert_card) -> None:
    card = RestartingCard()
    link = insert_card(card)
    data = reader.read_card(timeout_s=10)
    assert card.restarted and data.pan == PROFILES["pse"].pan
    assert reader.recoveries >= 1 and link.connections >= 2
    assert card.atc == 2  # the read started again from SELECT; still no GENERATE AC
