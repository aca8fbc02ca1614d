"""SAM_V codec against the frames published in the reference."""

from __future__ import annotations

import pytest

from kiosk.errors import FrameError
from kiosk.idcard import frames as f

RESET_SAM = bytes.fromhex("AAAAAA96690003 10FFEC".replace(" ", ""))
SAM_STATUS = bytes.fromhex("AAAAAA9669000311FFED")
READ_SAM_ID = bytes.fromhex("AAAAAA9669000312FFEE")
FIND_CARD = bytes.fromhex("AAAAAA9669000320 0122".replace(" ", ""))
SELECT_CARD = bytes.fromhex("AAAAAA96690003200221")
READ_TEXT_PHOTO = bytes.fromhex("AAAAAA96690003300132")
READ_NEWEST_ADDRESS = bytes.fromhex("AAAAAA96690003300330")
READ_WITH_FINGERPRINT = bytes.fromhex("AAAAAA96690003301023")
ANSWER_OK = bytes.fromhex("AAAAAA9669000400009094")
ANSWER_CARD_FOUND = bytes.fromhex("AAAAAA966900080000 9F0000000097".replace(" ", ""))
ANSWER_NO_CARD = bytes.fromhex("AAAAAA9669000400008084")
ANSWER_SELECT_FAILED = bytes.fromhex("AAAAAA9669000400008185")


@pytest.mark.parametrize(("command", "frame"), [
    (f.Command.RESET_SAM, RESET_SAM), (f.Command.SAM_STATUS, SAM_STATUS), (f.Command.READ_SAM_ID, READ_SAM_ID),
    (f.Command.FIND_CARD, FIND_CARD), (f.Command.SELECT_CARD, SELECT_CARD),
    (f.Command.READ_TEXT_PHOTO, READ_TEXT_PHOTO), (f.Command.READ_NEWEST_ADDRESS, READ_NEWEST_ADDRESS),
    (f.Command.READ_TEXT_PHOTO_FINGERPRINT, READ_WITH_FINGERPRINT),
])
def test_request_frames(command: f.Command, frame: bytes) -> None:
    assert f.encode_request(command) == frame
    assert f.decode_request(frame) == command


@pytest.mark.parametrize(("sw3", "data", "frame"), [
    (f.Sw3.OK, b"", ANSWER_OK), (f.Sw3.CARD_FOUND, bytes(4), ANSWER_CARD_FOUND),
    (f.Sw3.FIND_CARD_FAILED, b"", ANSWER_NO_CARD), (f.Sw3.SELECT_CARD_FAILED, b"", ANSWER_SELECT_FAILED),
])
def test_response_frames(sw3: f.Sw3, data: bytes, frame: bytes) -> None:
    assert f.encode_response(sw3, data) == frame
    assert f.decode_response(frame) == f.Response(sw3, data)


def test_reference_checksums() -> None:
    assert f.xor_checksum(bytes.fromhex("00032001")) == 0x22
    assert f.xor_checksum(bytes.fromhex("00033001")) == 0x32
    assert f.xor_checksum(bytes.fromhex("000312FF")) == 0xEE


def test_set_baud_request() -> None:
    assert f.encode_request(f.Command.SET_BAUD, f.BaudCode.B9600) == bytes.fromhex("AAAAAA96690003600467")


def test_every_sw3_has_a_text() -> None:
    assert len(f.Sw3) == 18
    for sw3 in f.Sw3:
        assert f.sw3_text(sw3) == f.SW3_TEXT[sw3]
    assert f.sw3_text(0x55) == "unknown status 0x55"


def test_read_answer_lengths_match_the_reference() -> None:
    card = f.CardData(bytes(256), bytes(1024))
    frame = f.encode_response(f.Sw3.OK, f.encode_card_data(card))
    assert frame[5:7] == bytes.fromhex("0508")
    assert f.decode_card_data(f.decode_response(frame).data) == card
    with_fp = f.CardData(bytes(256), bytes(1024), bytes(1024))
    frame = f.encode_response(f.Sw3.OK, f.encode_card_data(with_fp))
    assert frame[5:7] == bytes.fromhex("090A")
    assert f.decode_card_data(f.decode_response(frame).data, with_fingerprint=True) == with_fp


def test_bad_frames_raise_frame_error() -> None:
    with pytest.raises(FrameError, match="checksum"):
        f.decode_response(ANSWER_OK[:-1] + b"\x00")
    with pytest.raises(FrameError, match="preamble"):
        f.decode_response(b"\xaa\xaa\xab" + ANSWER_OK[3:])
    with pytest.raises(FrameError):
        f.decode_response(ANSWER_OK + b"\x00")
    with pytest.raises(FrameError):
        f.decode_card_data(bytes(5))
    with pytest.raises(FrameError):
        f.decode_card_data(bytes.fromhex("01000400") + bytes(10))
