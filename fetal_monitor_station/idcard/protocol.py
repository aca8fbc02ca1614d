"""SAM_V frames and the ID card's text block (pure functions over bytes), as far as admission needs.

The station may not import the kiosk's driver (components meet only on the wire), so this is the
station's own reading of the same protocol (reference: ../shared/reference/kiosk-devices.md §1):
frame = ``AA AA AA 96 69`` · length (2, big-endian, what follows it) · body · XOR of length..body.
Request body CMD PARA; response body SW1 SW2 SW3 + data. Admission reads find (20 01) ->
select (20 02) -> text + photo (30 01) and keeps only name, sex, birth date and ID number.
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass

from fetal_monitor_station.errors import StationError

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
HEADER_LEN = len(PREAMBLE) + 2
MAX_LENGTH = 0x0A00  # the longest answer (text + photo + fingerprint) is 0x090A

CMD_FIND_CARD = 0x2001
CMD_SELECT_CARD = 0x2002
CMD_READ_TEXT_PHOTO = 0x3001
SW3_OK = 0x90
SW3_CARD_FOUND = 0x9F
SW3_NO_CARD = 0x80
SW3_NAMES = {0x90: "OK", 0x91: "no content", 0x9F: "card found", 0x10: "request checksum error",
             0x11: "request length error", 0x21: "bad command", 0x23: "not permitted", 0x24: "unknown error",
             0x31: "card failed to authenticate SAM", 0x32: "SAM failed to authenticate card",
             0x33: "information check failed", 0x40: "unknown card type", 0x41: "read failed",
             0x47: "random number fetch failed", 0x60: "SAM self-test failed", 0x66: "SAM not authorised",
             0x80: "no card", 0x81: "select card failed"}

TEXT_BLOCK_LEN = 256
TEXT_ENCODING = "utf-16-le"
# (offset, bytes) in the 256-byte text block
NAME_FIELD = (0, 30)
SEX_FIELD = (30, 2)
BIRTH_FIELD = (36, 16)
ID_NUMBER_FIELD = (122, 36)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # GB 11643-1999, ISO 7064 MOD 11-2
ID_CHECK_CHARS = "10X98765432"
SEX_CODES = {"0": "unknown", "1": "male", "2": "female", "9": "unspecified"}  # GB/T 2261.1


class CardError(StationError):
    """A frame or a card the station cannot use (with what was wrong, never the card's data)."""


def _xor(data: bytes) -> int:
    out = 0
    for b in data:
        out ^= b
    return out


def request(command: int) -> bytes:
    """The 10-byte request frame of a 16-bit CMD·PARA."""
    body = struct.pack(">HH", 3, command)
    return PREAMBLE + body + bytes((_xor(body),))


def remaining(header: bytes) -> int:
    """Bytes still to read after the 7-byte header (body + checksum)."""
    if len(header) != HEADER_LEN or not header.startswith(PREAMBLE):
        raise CardError(f"ID-card reader: bad frame start {header[:len(PREAMBLE)].hex(' ')}")
    (length,) = struct.unpack(">H", header[len(PREAMBLE):])
    if not 4 <= length <= MAX_LENGTH:
        raise CardError(f"ID-card reader: bad frame length {length}")
    return int(length)


@dataclass(frozen=True)
class Answer:
    sw3: int
    data: bytes

    @property
    def status(self) -> str:
        return SW3_NAMES.get(self.sw3, f"status 0x{self.sw3:02X}")


def answer(frame: bytes) -> Answer:
    """A whole response frame, length and checksum checked."""
    length = remaining(frame[:HEADER_LEN])
    if len(frame) != HEADER_LEN + length:
        raise CardError(f"ID-card reader: frame of {len(frame)} bytes, its length says {HEADER_LEN + length}")
    if _xor(frame[len(PREAMBLE):-1]) != frame[-1]:
        raise CardError("ID-card reader: checksum mismatch")
    return Answer(frame[HEADER_LEN + 2], bytes(frame[HEADER_LEN + 3:-1]))


def id_check_char(first17: str) -> str:
    return ID_CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def mask_id_number(number: str) -> str:
    """What the screen shows: region and check character only (e.g. 110105********002X -> 1101**********002X)."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


@dataclass(frozen=True)
class CardHolder:
    name: str
    sex: str  # GB/T 2261.1 meaning: female, male, unknown, unspecified
    birth: dt.date
    id_number: str

    @property
    def masked_id(self) -> str:
        return mask_id_number(self.id_number)

    def __repr__(self) -> str:  # personal data stays out of logs and tracebacks
        return f"CardHolder({self.masked_id})"


def _field(block: bytes, where: tuple[int, int], what: str) -> str:
    start, size = where
    try:
        return block[start:start + size].decode(TEXT_ENCODING).strip(" \x00")
    except UnicodeDecodeError:
        raise CardError(f"ID card: {what} is not UCS-2 text") from None


def card_holder(read_data: bytes) -> CardHolder:
    """The data of a 30 01 answer (text length, photo length, text, photo) -> the holder."""
    if len(read_data) < 4:
        raise CardError("ID card: read data shorter than its length fields")
    text_len, photo_len = struct.unpack(">HH", read_data[:4])
    if text_len != TEXT_BLOCK_LEN or len(read_data) != 4 + text_len + photo_len:
        raise CardError(f"ID card: lengths {text_len}/{photo_len} do not match {len(read_data) - 4} bytes")
    block = read_data[4:4 + TEXT_BLOCK_LEN]
    name = _field(block, NAME_FIELD, "name")
    sex = SEX_CODES.get(_field(block, SEX_FIELD, "sex"))
    birth_text = _field(block, BIRTH_FIELD, "birth date")
    number = _field(block, ID_NUMBER_FIELD, "ID number").upper()
    if not name or sex is None:
        raise CardError("ID card: no name or an unknown sex code")
    try:
        birth = dt.datetime.strptime(birth_text, "%Y%m%d").date()
    except ValueError:
        raise CardError("ID card: birth date is not YYYYMMDD") from None
    if len(number) != 18 or not number[:17].isdigit() or id_check_char(number[:17]) != number[17]:
        raise CardError("ID card: ID number fails its GB 11643 check digit")
    if number[6:14] != birth_text:
        raise CardError("ID card: ID number and birth date disagree")
    return CardHolder(name, sex, birth, number)
