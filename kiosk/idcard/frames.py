"""SAM_V frame codec of the resident ID card reader (pure functions over bytes).

Frame: PREAMBLE ``AA AA AA 96 69`` · LEN (2, big-endian, counts everything after itself) ·
body · XOR checksum of LEN..last body byte.  Request body = CMD PARA; response body =
SW1 SW2 SW3 + data.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from kiosk.errors import FrameError

DEVICE = "idcard"
PREAMBLE = bytes((0xAA, 0xAA, 0xAA, 0x96, 0x69))
LEN_SIZE = 2
HEADER_LEN = len(PREAMBLE) + LEN_SIZE
CHECKSUM_LEN = 1
SW_OK_PREFIX = bytes((0x00, 0x00))  # SW1 SW2
MAX_BODY_LEN = 0x0A00  # largest real frame is 0x090A (text + photo + fingerprint)
TEXT_LEN_OK = 256
PHOTO_LEN_OK = 1024
FINGERPRINT_LEN_OK = 1024


class Command(enum.IntEnum):
    """Request CMD·PARA as one 16-bit value."""

    RESET_SAM = 0x10FF
    SAM_STATUS = 0x11FF
    READ_SAM_ID = 0x12FF
    FIND_CARD = 0x2001
    SELECT_CARD = 0x2002
    READ_TEXT_PHOTO = 0x3001
    READ_NEWEST_ADDRESS = 0x3003
    READ_TEXT_PHOTO_FINGERPRINT = 0x3010
    SET_BAUD = 0x6000  # PARA = baud code


class BaudCode(enum.IntEnum):
    B115200 = 0x00
    B57600 = 0x01
    B38400 = 0x02
    B19200 = 0x03
    B9600 = 0x04


class Sw3(enum.IntEnum):
    """SAM status word SW3."""

    OK = 0x90
    NO_CONTENT = 0x91
    CARD_FOUND = 0x9F
    REQUEST_CHECKSUM_ERROR = 0x10
    REQUEST_LENGTH_ERROR = 0x11
    BAD_COMMAND = 0x21
    NOT_PERMITTED = 0x23
    UNKNOWN_ERROR = 0x24
    CARD_AUTH_SAM_FAILED = 0x31
    SAM_AUTH_CARD_FAILED = 0x32
    INFO_CHECK_FAILED = 0x33
    UNKNOWN_CARD_TYPE = 0x40
    READ_FAILED = 0x41
    RANDOM_FETCH_FAILED = 0x47
    SAM_SELF_TEST_FAILED = 0x60
    SAM_NOT_AUTHORISED = 0x66
    FIND_CARD_FAILED = 0x80
    SELECT_CARD_FAILED = 0x81


SW3_TEXT = {
    Sw3.OK: "OK", Sw3.NO_CONTENT: "no content", Sw3.CARD_FOUND: "card found",
    Sw3.REQUEST_CHECKSUM_ERROR: "checksum error in request", Sw3.REQUEST_LENGTH_ERROR: "length error in request",
    Sw3.BAD_COMMAND: "bad command or parameters", Sw3.NOT_PERMITTED: "not permitted",
    Sw3.UNKNOWN_ERROR: "unknown error", Sw3.CARD_AUTH_SAM_FAILED: "card failed to authenticate SAM",
    Sw3.SAM_AUTH_CARD_FAILED: "SAM failed to authenticate card", Sw3.INFO_CHECK_FAILED: "information check failed",
    Sw3.UNKNOWN_CARD_TYPE: "unknown card type", Sw3.READ_FAILED: "read failed",
    Sw3.RANDOM_FETCH_FAILED: "random number fetch failed", Sw3.SAM_SELF_TEST_FAILED: "SAM self-test failed",
    Sw3.SAM_NOT_AUTHORISED: "SAM not authorised", Sw3.FIND_CARD_FAILED: "no card found",
    Sw3.SELECT_CARD_FAILED: "select card failed",
}


def sw3_text(sw3: int) -> str:
    try:
        return SW3_TEXT[Sw3(sw3)]
    except ValueError:
        return f"unknown status 0x{sw3:02X}"


def xor_checksum(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


def _frame(body: bytes) -> bytes:
    length = struct.pack(">H", len(body) + CHECKSUM_LEN)
    return PREAMBLE + length + body + bytes((xor_checksum(length + body),))


def encode_request(command: int, para: int | None = None) -> bytes:
    """Request frame for ``command`` (a 16-bit CMD·PARA, or CMD·0 with ``para`` given)."""
    value = int(command) | (para or 0)
    return _frame(struct.pack(">H", value))


def encode_response(sw3: int, data: bytes = b"") -> bytes:
    return _frame(SW_OK_PREFIX + bytes((sw3,)) + data)


def body_length(header: bytes) -> int:
    """Given the 7 header bytes, the number of bytes still to read (body + checksum)."""
    if len(header) != HEADER_LEN or header[:len(PREAMBLE)] != PREAMBLE:
        raise FrameError(DEVICE, f"bad preamble {header[:len(PREAMBLE)].hex(' ')}")
    (length,) = struct.unpack(">H", header[len(PREAMBLE):])
    if not 2 + CHECKSUM_LEN <= length <= MAX_BODY_LEN:
        raise FrameError(DEVICE, f"bad frame length {length}")
    return length


def _checked_body(frame: bytes) -> bytes:
    length = body_length(frame[:HEADER_LEN])
    if len(frame) != HEADER_LEN + length:
        raise FrameError(DEVICE, f"frame is {len(frame)} bytes, its length field says {HEADER_LEN + length}")
    if xor_checksum(frame[len(PREAMBLE):-1]) != frame[-1]:
        raise FrameError(DEVICE, "checksum mismatch")
    return frame[HEADER_LEN:-1]


@dataclass(frozen=True)
class Response:
    sw3: int
    data: bytes

    @property
    def status_text(self) -> str:
        return sw3_text(self.sw3)


def decode_response(frame: bytes) -> Response:
    body = _checked_body(frame)
    if len(body) < 3:
        raise FrameError(DEVICE, "response shorter than its status words")
    return Response(body[2], bytes(body[3:]))


def decode_request(frame: bytes) -> int:
    """Request frame -> 16-bit CMD·PARA."""
    body = _checked_body(frame)
    if len(body) != 2:
        raise FrameError(DEVICE, "request body must be CMD PARA")
    return int(struct.unpack(">H", body)[0])


@dataclass(frozen=True)
class CardData:
    """Data part of a 30 01 / 30 10 answer: text block, WLT photo, optional fingerprint."""

    text: bytes
    photo_wlt: bytes
    fingerprint: bytes | None = None

    def __repr__(self) -> str:
        return f"CardData(text={len(self.text)} B, photo={len(self.photo_wlt)} B)"


def decode_card_data(data: bytes, *, with_fingerprint: bool = False) -> CardData:
    """Split the read data (after SW1..SW3) into its parts, checking every length."""
    fmt = ">HHH" if with_fingerprint else ">HH"
    head = struct.calcsize(fmt)
    if len(data) < head:
        raise FrameError(DEVICE, "card data shorter than its length fields")
    lengths = struct.unpack(fmt, data[:head])
    if lengths[0] != TEXT_LEN_OK or len(data) != head + sum(lengths):
        raise FrameError(DEVICE, f"card data lengths {lengths} do not match {len(data) - head} bytes")
    text = data[head:head + lengths[0]]
    photo = data[head + lengths[0]:head + lengths[0] + lengths[1]]
    finger = data[head + lengths[0] + lengths[1]:] if with_fingerprint else None
    return CardData(bytes(text), bytes(photo), finger)


def encode_card_data(card: CardData) -> bytes:
    if card.fingerprint is None:
        return struct.pack(">HH", len(card.text), len(card.photo_wlt)) + card.text + card.photo_wlt
    return (struct.pack(">HHH", len(card.text), len(card.photo_wlt), len(card.fingerprint))
            + card.text + card.photo_wlt + card.fingerprint)
