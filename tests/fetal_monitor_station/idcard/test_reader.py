"""The station's SAM_V reading against the kiosk's ID-card simulator (the device side) on a pty."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from fetal_monitor_station.idcard import protocol as p
from fetal_monitor_station.idcard.reader import open_reader
from kiosk.idcard.identity import parse_text_block
from kiosk.idcard.simulator import (
    Fault,
    IdCardHandle,
    bad_check_digit_card,
    start_on_pty,
    unreadable_card,
    valid_card,
)


def test_request_frames_are_the_reference_bytes() -> None:
    # ../shared/reference/kiosk-devices.md §1, fixed request frames
    assert p.request(p.CMD_FIND_CARD).hex(" ") == "aa aa aa 96 69 00 03 20 01 22"
    assert p.request(p.CMD_SELECT_CARD).hex(" ") == "aa aa aa 96 69 00 03 20 02 21"
    assert p.request(p.CMD_READ_TEXT_PHOTO).hex(" ") == "aa aa aa 96 69 00 03 30 01 32"


def test_answers_are_checked() -> None:
    found = bytes.fromhex("aaaaaa9669 0008 00009f 00000000 97")
    assert p.answer(found).sw3 == p.SW3_CARD_FOUND
    with pytest.raises(p.CardError, match="checksum"):
        p.answer(found[:-1] + b"\x00")
    with pytest.raises(p.CardError, match="frame start"):
        p.remaining(b"\xaa\xaa\x00\x96\x69\x00\x08")
    with pytest.raises(p.CardError, match="length"):
        p.remaining(b"\xaa\xaa\xaa\x96\x69\xff\xff")


def test_check_digit_and_mask_on_the_standards_examples() -> None:
    assert p.id_check_char("11010519491231002") == "X"
    assert p.id_check_char("44052418800101001") == "4"
    assert p.mask_id_number("11010519491231002X") == "1101**********002X"


@pytest.fixture
def reader_sim() -> Iterator[IdCardHandle]:
    handle = start_on_pty([valid_card(7)])
    yield handle
    handle.stop()


@pytest.mark.integration
def test_reads_the_simulated_card_on_a_pty(reader_sim: IdCardHandle) -> None:
    expected = parse_text_block(valid_card(7).text)  # the kiosk's own parser says what the card holds
    reader = open_reader(reader_sim.port_url)
    holder = reader.read()
    assert holder is not None
    assert (holder.name, holder.birth, holder.id_number) == (expected.name, expected.birth_date, expected.id_number)
    assert holder.sex == "female" and isinstance(holder.birth, dt.date)
    assert expected.id_number not in repr(holder) and holder.masked_id in repr(holder)
    reader_sim.sim.lift()
    assert reader.read() is None


@pytest.mark.integration
def test_bad_cards_and_a_silent_reader_are_clear_errors(reader_sim: IdCardHandle) -> None:
    reader = open_reader(reader_sim.port_url)
    reader_sim.sim.place(bad_check_digit_card())
    with pytest.raises(p.CardError, match="check digit"):
        reader.read()
    reader_sim.sim.place(unreadable_card())
    with pytest.raises(p.CardError, match="read failed"):
        reader.read()
    reader_sim.sim.place(valid_card(7))
    reader_sim.sim.fault = Fault.BAD_CHECKSUM
    with pytest.raises(p.CardError, match="checksum"):
        reader.read()
    reader_sim.sim.fault = Fault.NO_ANSWER
    with pytest.raises(p.CardError, match="no answer"):
        reader.read()
    reader_sim.sim.fault = Fault.NONE
    assert reader.read() is not None  # the reader recovers once the fault is gone


def test_a_port_that_cannot_be_opened_names_it(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(p.CardError, match="cannot open"):
        open_reader(str(tmp_path / "no-such-tty"))
