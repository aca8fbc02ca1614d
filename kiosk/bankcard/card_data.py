"""What the kiosk keeps from a bank card, and the pure parsing of card records into it.

The PAN is held only to be tokenised or masked by the caller: ``repr``/``str`` show the masked
form (first 6, last 4), and nothing in this package logs it.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from kiosk.bankcard import tlv
from kiosk.bankcard.errors import CardReadError

TAG_PAN = 0x5A
TAG_TRACK2 = 0x57
TAG_CARDHOLDER_NAME = 0x5F20
TAG_CARDHOLDER_NAME_EXTENDED = 0x9F0B
TAG_EXPIRY = 0x5F24
TAG_PAN_SEQUENCE = 0x5F34
TAG_CARDHOLDER_ID_NUMBER = 0x9F61
TAG_CARDHOLDER_ID_TYPE = 0x9F62
TAG_ISSUER_COUNTRY = 0x5F28

TRACK2_SEPARATOR = "D"
BCD_PAD = "F"
PAN_MIN_DIGITS = 12
PAN_MAX_DIGITS = 19
MASK_KEEP_FIRST = 6
MASK_KEEP_LAST = 4
MASK_CHAR = "*"

ID_TYPE_NAMES = {
    0x00: "resident ID card",
    0x01: "military officer card",
    0x02: "passport",
    0x03: "entry permit",
    0x04: "temporary resident ID card",
    0x05: "other",
}
ID_TYPE_RESIDENT_CARD = 0x00


def luhn_valid(digits: str) -> bool:
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def mask_pan(pan: str) -> str:
    hidden = max(len(pan) - MASK_KEEP_FIRST - MASK_KEEP_LAST, 0)
    return pan[:MASK_KEEP_FIRST] + MASK_CHAR * hidden + pan[MASK_KEEP_FIRST + hidden:]


@dataclass(frozen=True, repr=False)
class BankCardData:
    """Account data read from the chip. ``pan`` is never shown by ``repr``/``str``."""

    pan: str = field(repr=False)
    expiry: date
    cardholder_name: str
    aid: str
    application_label: str
    pan_sequence: int | None = None
    cardholder_id_number: str | None = field(default=None, repr=False)
    cardholder_id_type: int | None = None

    def __post_init__(self) -> None:
        if not PAN_MIN_DIGITS <= len(self.pan) <= PAN_MAX_DIGITS or not luhn_valid(self.pan):
            raise CardReadError("card PAN is not a valid account number (length or Luhn check)")

    @property
    def masked_pan(self) -> str:
        return mask_pan(self.pan)

    def expired(self, today: date) -> bool:
        return today > self.expiry

    @property
    def id_type_name(self) -> str | None:
        if self.cardholder_id_type is None:
            return None
        return ID_TYPE_NAMES.get(self.cardholder_id_type, f"type {self.cardholder_id_type:02X}")

    def matches_id_number(self, id_number: str) -> bool | None:
        """Cross-check with the ID card: None when the card carries no resident-ID number."""
        if self.cardholder_id_number is None or self.cardholder_id_type not in (None, ID_TYPE_RESIDENT_CARD):
            return None
        return self.cardholder_id_number.strip().upper() == id_number.strip().upper()

    def __repr__(self) -> str:
        return (f"BankCardData(pan={self.masked_pan}, expiry={self.expiry.isoformat()}, aid={self.aid}, "
                f"label={self.application_label!r}, id_number={'present' if self.cardholder_id_number else 'absent'})")

    __str__ = __repr__


def decode_bcd_digits(value: bytes) -> str:
    text = value.hex().upper().rstrip(BCD_PAD)
    if not text.isdigit():
        raise CardReadError("BCD field holds non-digits")
    return text


def parse_expiry(value: bytes) -> date:
    """``5F24`` YYMMDD (n6); the card is valid through that day."""
    digits = decode_bcd_digits(value)
    if len(digits) != 6:
        raise CardReadError("expiry date is not YYMMDD")
    year, month, day = 2000 + int(digits[:2]), int(digits[2:4]), int(digits[4:6])
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise CardReadError("expiry date is not a calendar date") from exc


def parse_track2(value: bytes) -> tuple[str, date]:
    """PAN and expiry (last day of YYMM) from track-2 equivalent data ``57``."""
    text = value.hex().upper().rstrip(BCD_PAD)
    pan, sep, rest = text.partition(TRACK2_SEPARATOR)
    if not sep or len(rest) < 4 or not pan.isdigit() or not rest[:4].isdigit():
        raise CardReadError("track-2 equivalent data is malformed")
    year, month = 2000 + int(rest[:2]), int(rest[2:4])
    if not 1 <= month <= 12:
        raise CardReadError("track-2 expiry month is out of range")
    return pan, date(year, month, calendar.monthrange(year, month)[1])


def _text(value: bytes) -> str:
    return value.decode("gb18030", errors="replace").strip()


def _name(objects: list[tlv.Tlv]) -> str:
    extended = tlv.find(objects, tag=TAG_CARDHOLDER_NAME_EXTENDED)
    short = tlv.find(objects, tag=TAG_CARDHOLDER_NAME)
    raw = extended or short
    return _text(raw.value).replace("/", " ").strip() if raw else ""


def card_data_from_records(records: Iterable[tlv.Tlv], *, aid: bytes, label: str) -> BankCardData:
    """Build the result from the GPO response and the AFL records (any order)."""
    objects = list(records)
    pan_obj = tlv.find(objects, tag=TAG_PAN)
    track2 = tlv.find(objects, tag=TAG_TRACK2)
    expiry_obj = tlv.find(objects, tag=TAG_EXPIRY)
    if pan_obj is not None:
        pan = decode_bcd_digits(pan_obj.value)
    elif track2 is not None:
        pan = parse_track2(track2.value)[0]
    else:
        raise CardReadError("card records carry no account number (5A / 57)")
    if expiry_obj is not None:
        expiry = parse_expiry(expiry_obj.value)
    elif track2 is not None:
        expiry = parse_track2(track2.value)[1]
    else:
        raise CardReadError("card records carry no expiry date (5F24 / 57)")
    if track2 is not None and parse_track2(track2.value)[0] != pan:
        raise CardReadError("account number in 5A and in track-2 data differ")
    seq_obj = tlv.find(objects, tag=TAG_PAN_SEQUENCE)
    id_obj = tlv.find(objects, tag=TAG_CARDHOLDER_ID_NUMBER)
    id_type_obj = tlv.find(objects, tag=TAG_CARDHOLDER_ID_TYPE)
    return BankCardData(
        pan=pan,
        expiry=expiry,
        cardholder_name=_name(objects),
        aid=aid.hex().upper(),
        application_label=label,
        pan_sequence=int(decode_bcd_digits(seq_obj.value)) if seq_obj and seq_obj.value else None,
        cardholder_id_number=_text(id_obj.value) or None if id_obj else None,
        cardholder_id_type=id_type_obj.value[0] if id_type_obj and id_type_obj.value else None,
    )
