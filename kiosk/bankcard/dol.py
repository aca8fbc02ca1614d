"""Data object lists (PDOL): parse the card's tag+length list and fill it with terminal data.

A DOL is not TLV: it is a list of tags and lengths with no values (EMV Book 3 §5.4). The value
sent to the card is the concatenation of the terminal's data objects, each cut or padded to the
requested length by the format rules: numeric (n) data is padded / cut on the left, everything
else on the right; a tag the terminal does not know is sent as zeros.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from kiosk.bankcard import tlv
from kiosk.bankcard.errors import TlvError

TAG_TTQ = 0x9F66
TAG_AMOUNT_AUTHORISED = 0x9F02
TAG_AMOUNT_OTHER = 0x9F03
TAG_TERMINAL_COUNTRY = 0x9F1A
TAG_CURRENCY = 0x5F2A
TAG_TRANSACTION_DATE = 0x9A
TAG_TRANSACTION_TIME = 0x9F21
TAG_TRANSACTION_TYPE = 0x9C
TAG_UNPREDICTABLE_NUMBER = 0x9F37
TAG_ECASH_SUPPORT = 0x9F7A
TAG_TVR = 0x95
TAG_TERMINAL_TYPE = 0x9F35
TAG_TERMINAL_CAPABILITIES = 0x9F33

COUNTRY_CHINA = bytes.fromhex("0156")       # ISO 3166 numeric 156, n3 in 2 bytes
CURRENCY_CNY = bytes.fromhex("0156")        # ISO 4217 numeric 156
TRANSACTION_TYPE_INQUIRY = bytes([0x31])    # balance inquiry: no amount, no goods
TTQ_CONTACT_READ = bytes.fromhex("28000000")  # qPBOC supported, contact chip supported, no online PIN
ECASH_NOT_SUPPORTED = bytes([0x00])
TERMINAL_TYPE_UNATTENDED = bytes([0x25])    # unattended, offline with online capability, merchant
TERMINAL_CAPS_NO_CVM = bytes.fromhex("E00000")  # IC+mag+manual entry, no CVM, no SDA/DDA
UNPREDICTABLE_NUMBER_LENGTH = 4
AMOUNT_LENGTH = 6
TVR_LENGTH = 5

NUMERIC_TAGS = frozenset({TAG_AMOUNT_AUTHORISED, TAG_AMOUNT_OTHER, TAG_TERMINAL_COUNTRY, TAG_CURRENCY,
                          TAG_TRANSACTION_DATE, TAG_TRANSACTION_TIME})
TAG_COMMAND_TEMPLATE = 0x83


@dataclass(frozen=True)
class DolEntry:
    tag: int
    length: int


def parse_dol(data: bytes) -> tuple[DolEntry, ...]:
    entries = []
    pos = 0
    while pos < len(data):
        tag, pos = tlv.read_tag(data, pos)
        length, pos = tlv.read_length(data, pos)
        entries.append(DolEntry(tag, length))
    return tuple(entries)


def _bcd(number: int, n_bytes: int) -> bytes:
    return bytes.fromhex(f"{number:0{2 * n_bytes}d}")


def terminal_data(now: datetime, unpredictable_number: bytes) -> dict[int, bytes]:
    """The kiosk's terminal data for a read-only inquiry (amount zero)."""
    if len(unpredictable_number) != UNPREDICTABLE_NUMBER_LENGTH:
        raise TlvError("unpredictable number must be 4 bytes")
    return {
        TAG_TTQ: TTQ_CONTACT_READ,
        TAG_AMOUNT_AUTHORISED: bytes(AMOUNT_LENGTH),
        TAG_AMOUNT_OTHER: bytes(AMOUNT_LENGTH),
        TAG_TERMINAL_COUNTRY: COUNTRY_CHINA,
        TAG_CURRENCY: CURRENCY_CNY,
        TAG_TRANSACTION_DATE: _bcd(int(now.strftime("%y%m%d")), 3),
        TAG_TRANSACTION_TIME: _bcd(int(now.strftime("%H%M%S")), 3),
        TAG_TRANSACTION_TYPE: TRANSACTION_TYPE_INQUIRY,
        TAG_UNPREDICTABLE_NUMBER: bytes(unpredictable_number),
        TAG_ECASH_SUPPORT: ECASH_NOT_SUPPORTED,
        TAG_TVR: bytes(TVR_LENGTH),
        TAG_TERMINAL_TYPE: TERMINAL_TYPE_UNATTENDED,
        TAG_TERMINAL_CAPABILITIES: TERMINAL_CAPS_NO_CVM,
    }


def fit(tag: int, value: bytes, length: int) -> bytes:
    """Cut or pad one terminal value to the length the card asked for (EMV Book 3 §5.4)."""
    if len(value) == length:
        return value
    if tag in NUMERIC_TAGS:
        return value[-length:] if len(value) > length else bytes(length - len(value)) + value
    return value[:length] if len(value) > length else value + bytes(length - len(value))


def build_dol_data(entries: tuple[DolEntry, ...], values: Mapping[int, bytes]) -> bytes:
    return b"".join(fit(e.tag, values.get(e.tag, b""), e.length) for e in entries)


def gpo_command_template(pdol: bytes | None, values: Mapping[int, bytes]) -> bytes:
    """The GPO data field: tag 83 with the PDOL values (``83 00`` without a PDOL)."""
    data = build_dol_data(parse_dol(pdol), values) if pdol else b""
    return tlv.encode_tlv(TAG_COMMAND_TEMPLATE, data)
