"""`mch-kiosk run --simulate` and `make run` give the patient her own bank card: the chip's
cardholder ID (tag 9F61) is the simulated ID card's number, so signing (签约) can succeed."""

from __future__ import annotations

import pytest

from kiosk.bankcard import BankCardReader, PcscClient
from kiosk.idcard.driver import IdCardReader
from kiosk.serial_transport import open_port
from kiosk.simulation import simulated

pytestmark = pytest.mark.integration


def test_the_simulated_bank_card_belongs_to_the_simulated_id_card_holder() -> None:
    with simulated() as sim:
        assert "bankcard" not in sim.faults, sim.faults
        assert sim.config.idcard is not None and sim.config.bankcard is not None
        port = open_port(sim.config.idcard.port, device="idcard")
        try:
            read = IdCardReader(port).read_card()
        finally:
            port.close()
        assert read is not None
        client = PcscClient(call_timeout_s=sim.config.bankcard.call_timeout_s)
        try:
            card = BankCardReader(client, reader_name=sim.config.bankcard.reader, recovery_s=0).read_card(10)
        finally:
            client.release()
        assert card.matches_id_number(read.identity.id_number) is True
