"""ID-card reader driver against the simulator on a pty."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

import pytest

from kiosk.errors import CardDataError, DeviceStatusError, DeviceTimeoutError, FrameError
from kiosk.idcard import frames as f
from kiosk.idcard.driver import IdCardReader
from kiosk.idcard.simulator import (
    Fault,
    IdCardHandle,
    bad_check_digit_card,
    expired_card,
    start_on_pty,
    unreadable_card,
    valid_card,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def sim() -> Iterator[IdCardHandle]:
    handle = start_on_pty([valid_card(newest_address="样例省样例市新址路8号")])
    yield handle
    handle.stop()


@pytest.fixture
def reader(sim: IdCardHandle, open_pty_port) -> IdCardReader:
    return IdCardReader(open_pty_port(sim.port_url, "idcard"), timeout_s=0.4)


def test_self_test(reader: IdCardReader) -> None:
    assert reader.self_test() == "ID-card SAM OK, SAM ID 101112131415161718191A1B1C1D1E1F"


def test_read_valid_card(reader: IdCardReader, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    read = reader.read_card(newest_address=True)
    assert read is not None
    assert read.identity.is_valid_on(dt.date(2026, 1, 1))
    assert read.newest_address == "样例省样例市新址路8号"
    assert read.photo_wlt.startswith(b"WLT-SYNTHETIC") and len(read.photo_wlt) == 1024
    assert read.identity.name not in caplog.text and read.identity.id_number not in caplog.text


def test_no_card_and_no_newest_address(reader: IdCardReader, sim: IdCardHandle) -> None:
    sim.sim.lift()
    assert reader.read_card() is None
    sim.sim.place(valid_card(5))
    assert reader.read_card(newest_address=True).newest_address is None  # type: ignore[union-attr]


def test_expired_card_reads_but_is_not_valid(reader: IdCardReader, sim: IdCardHandle) -> None:
    sim.sim.place(expired_card())
    read = reader.read_card()
    assert read is not None and not read.identity.is_valid_on(dt.date(2026, 1, 1))


def test_bad_check_digit_is_card_data_error(reader: IdCardReader, sim: IdCardHandle) -> None:
    sim.sim.place(bad_check_digit_card())
    with pytest.raises(CardDataError, match="check digit") as err:
        reader.read_card()
    assert err.value.port == sim.port_url


def test_unreadable_card(reader: IdCardReader, sim: IdCardHandle) -> None:
    sim.sim.place(unreadable_card())
    with pytest.raises(DeviceStatusError) as err:
        reader.read_card()
    assert err.value.status == f.Sw3.READ_FAILED and "read failed" in str(err.value)
    assert sim.port_url in str(err.value) and str(err.value).startswith("idcard on ")


def test_bad_checksum_fault(reader: IdCardReader, sim: IdCardHandle) -> None:
    sim.sim.fault = Fault.BAD_CHECKSUM
    with pytest.raises(FrameError, match="checksum") as err:
        reader.find_card()
    assert err.value.port == sim.port_url


def test_no_answer_fault(reader: IdCardReader, sim: IdCardHandle) -> None:
    sim.sim.fault = Fault.NO_ANSWER
    with pytest.raises(DeviceTimeoutError, match="FIND_CARD") as err:
        reader.find_card()
    assert err.value.device == "idcard" and err.value.port == sim.port_url


def test_card_lifted_mid_read(reader: IdCardReader, sim: IdCardHandle) -> None:
    sim.sim.fault = Fault.LIFTED_MID_READ
    with pytest.raises(DeviceTimeoutError, match="READ_TEXT_PHOTO"):
        reader.read_card()
    sim.sim.fault = Fault.NONE
    assert reader.read_card() is None  # the card is gone; the driver recovers


def test_simulator_answers_bad_request_checksum(reader: IdCardReader, sim: IdCardHandle) -> None:
    raw = reader._port  # noqa: SLF001 - talk raw bytes to the simulator
    raw.write(f.encode_request(f.Command.FIND_CARD)[:-1] + b"\x00")
    answer = raw.read(11)
    assert f.decode_response(answer).sw3 == f.Sw3.REQUEST_CHECKSUM_ERROR


def test_paced_simulator_takes_wire_time(open_pty_port) -> None:
    handle = start_on_pty([valid_card()], paced=True)
    try:
        reader = IdCardReader(open_pty_port(handle.port_url, "idcard"))
        import time
        start = time.monotonic()
        assert reader.read_card() is not None
        assert time.monotonic() - start >= 0.11  # 1295 answer bytes alone need 112 ms at 115200 baud
    finally:
        handle.stop()


def test_wait_for_card_polls_until_placed(reader: IdCardReader, sim: IdCardHandle) -> None:
    import threading
    import time

    sim.sim.lift()
    assert not reader.wait_for_card(0.4)
    placer = threading.Timer(0.35, sim.sim.place, args=(valid_card(8),))
    placer.start()
    try:
        start = time.monotonic()
        assert reader.wait_for_card(3.0)
        assert time.monotonic() - start >= 0.3
    finally:
        placer.cancel()
