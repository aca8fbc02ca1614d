"""Flow fixtures: the real drivers on their pty simulators, a fake hospital, a bank card stub.
The stub is also what the scenario tests (tests/kiosk/app/) use; the PC/SC read itself is covered
through pcscd and the virtual reader in tests/kiosk/bankcard/ (test_pcscd, test_vpcd_link)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from kiosk.app.demo_keys import load_demo_keys
from kiosk.bankcard.card_data import BankCardData
from kiosk.bankcard.card_profiles import PROFILES
from kiosk.bankcard.errors import NoCardError
from kiosk.epp import simulator as epp_sim
from kiosk.epp.driver import PinPad
from kiosk.flows.pin import PinKeys
from kiosk.flows.session import Session
from kiosk.idcard import simulator as id_sim
from kiosk.idcard.driver import IdCardReader
from kiosk.ioboard import simulator as board_sim
from kiosk.ioboard.driver import IoBoard
from kiosk.receipt import simulator as receipt_sim
from kiosk.receipt.backends import SerialEscpos
from kiosk.receipt.driver import ReceiptPrinter
from kiosk.serial_transport import open_port
from tests.kiosk.fake_hospital import FakeHospital

TODAY = dt.date(2026, 12, 3)


@pytest.fixture
def hospital() -> FakeHospital:
    return FakeHospital(today=TODAY)


@pytest.fixture
def session() -> Session:
    return Session()


@dataclass
class Pad:
    sim: epp_sim.EppHandle
    driver: PinPad
    keys: PinKeys


class PressingPad:
    """The driver, with the customer pressing `keys` as soon as PIN entry starts."""

    def __init__(self, pad: Pad, keys: list[str]) -> None:
        self._pad, self._keys = pad, keys
        self.starts = 0

    def start_pin_entry(self, *args: Any) -> None:
        self._pad.driver.start_pin_entry(*args)
        self.starts += 1
        self._pad.sim.press(*self._keys)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pad.driver, name)


@pytest.fixture
def pad() -> Iterator[Pad]:
    sim = epp_sim.start_on_pty()
    port = open_port(sim.port_url, device="epp")
    driver = PinPad(port)
    keys = load_demo_keys(driver)
    yield Pad(sim, driver, keys)
    port.close()
    sim.stop()


@dataclass
class IdReader:
    sim: id_sim.IdCardHandle
    driver: IdCardReader


@pytest.fixture
def idreader() -> Iterator[IdReader]:
    sim = id_sim.start_on_pty([])
    port = open_port(sim.port_url, device="idcard")
    yield IdReader(sim, IdCardReader(port))
    port.close()
    sim.stop()


@dataclass
class Board:
    sim: board_sim.BoardHandle
    driver: IoBoard


@pytest.fixture
def board() -> Iterator[Board]:
    sim = board_sim.start_on_pty()
    port = open_port(sim.port_url, device="ioboard")
    yield Board(sim, IoBoard(port))
    port.close()
    sim.stop()


@dataclass
class Printer:
    sim: receipt_sim.PrinterHandle
    driver: ReceiptPrinter


@pytest.fixture
def printer() -> Iterator[Printer]:
    sim = receipt_sim.start_on_pty()
    port = open_port(sim.port_url, device="receipt")
    yield Printer(sim, ReceiptPrinter(SerialEscpos(port), name="sim"))
    port.close()
    sim.stop()


def card_data(profile: str = "pse") -> BankCardData:
    p = PROFILES[profile]
    return BankCardData(pan=p.pan, expiry=p.expiry, cardholder_name=p.cardholder_name, aid="A000000333010101",
                        application_label="PBOC DEBIT", pan_sequence=1, cardholder_id_number=p.id_number,
                        cardholder_id_type=p.id_type)


class StubBankCardReader:
    """Hands out a prepared card (waiting for one, like the reader), or raises a prepared error."""

    def __init__(self, card: BankCardData | None = None, error: Exception | None = None) -> None:
        self.card, self.error = card, error

    def read_card(self, timeout_s: float = 30.0) -> BankCardData:
        if self.error is not None:
            raise self.error
        deadline = time.monotonic() + timeout_s
        while self.card is None:
            if time.monotonic() > deadline:
                raise NoCardError("no card presented")
            time.sleep(0.05)
        return self.card

    def card_present(self) -> bool:
        return self.card is not None
