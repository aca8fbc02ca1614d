"""The motorized slot comes from the I/O board (kiosk.ioboard, its simulator on a pty): a card the
board pulled in but whose chip never answers is refused as stripe-only; a chip card is read."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kiosk.bankcard import BankCardReader, PcscClient
from kiosk.bankcard.card_profiles import PROFILES
from kiosk.bankcard.errors import StripeOnlyCardError
from kiosk.bankcard.slot import IoBoardSlot
from kiosk.ioboard.driver import IoBoard
from kiosk.ioboard.simulator import start_on_pty
from kiosk.serial_transport import open_port
from tests.kiosk.bankcard.conftest import VIRTUAL_READER

pytestmark = pytest.mark.integration
ACCEPT_WAIT_S = 5


@pytest.fixture
def board() -> Iterator[tuple[IoBoard, object]]:
    handle = start_on_pty()
    port = open_port(handle.port_url, device="ioboard")
    try:
        yield IoBoard(port), handle.board
    finally:
        port.close()
        handle.stop()


def pull_card_in(board: IoBoard, world: object) -> IoBoardSlot:
    world.insert_card()  # the customer pushes a card into the mouth
    assert board.accept_card(wait_s=ACCEPT_WAIT_S).ok
    slot = IoBoardSlot(board)
    assert slot.card_inside()
    return slot


def test_card_without_chip_answer_is_refused_and_ejected(board, insert_card, pcscd) -> None:
    io, world = board
    slot = pull_card_in(io, world)
    insert_card("mute")
    reader = BankCardReader(PcscClient(), reader_name=VIRTUAL_READER, slot=slot, chip_grace_s=0.5)
    with pytest.raises(StripeOnlyCardError, match="a card is in the slot but no chip answers"):
        reader.read_card(timeout_s=5)
    assert io.eject_card().ok and not slot.card_inside()


def test_chip_card_in_the_slot_is_read(board, insert_card, pcscd) -> None:
    io, world = board
    slot = pull_card_in(io, world)
    insert_card("pse")
    reader = BankCardReader(PcscClient(), reader_name=VIRTUAL_READER, slot=slot, chip_grace_s=0.5)
    assert reader.read_card(timeout_s=5).pan == PROFILES["pse"].pan
    assert io.eject_card().ok
