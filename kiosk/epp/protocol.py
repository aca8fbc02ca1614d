"""EPP command set (our ZT598-family subset): command codes, return codes, data layouts.

All command data is ASCII (slots as 2 hex digits, keys and blocks as hex). Codes follow the
ZT598 driver where it documents them (0x31 plaintext master key, length bytes 0x31-0x33,
usages 0x33/0x35/0x36, PIN formats 0x20/0x23, E0-EF errors); the rest is ours and listed
in docs/kiosk-devices.md.
"""

from __future__ import annotations

import enum

from kiosk.epp.crypto import Algorithm


class Cmd(enum.IntEnum):
    VERSION = 0x30
    LOAD_MASTER_KEY = 0x31  # slot, algorithm, part, length byte, key hex -> KCV hex
    LOAD_WORK_KEY = 0x32  # master slot, work slot, usage, length byte, key hex (under master), KCV -> KCV
    STATUS = 0x3A  # -> auth '0'/'1', locked '0'/'1', attempts left digit, masters count 2 digits
    GET_CHALLENGE = 0x40  # -> 8 random bytes hex
    AUTHENTICATE = 0x41  # E_authkey(challenge) hex
    LOGOUT = 0x42
    START_PIN_ENTRY = 0x50  # min 2 digits, max 2 digits, timeout 3 digits (s)
    CANCEL_PIN_ENTRY = 0x51
    GET_PIN_BLOCK = 0x52  # PIN key slot, format byte, 12-digit PAN field -> block hex
    MAC = 0x53  # MAC key slot, MAC algorithm byte, data hex -> MAC hex
    ENCRYPT = 0x54  # data key slot, data hex -> ECB ciphertext hex


RTN_OK = 0x60  # ZT598 returns 0x60-0x9F for success


class Rtn(enum.IntEnum):
    LOW_BATTERY = 0xE0
    NO_IMK = 0xE1
    NO_MASTER_KEY = 0xE2
    BAD_KEY_LENGTH = 0xE3
    NO_KEY_INDEX = 0xE4
    NO_SUCH_KEY = 0xE5
    PARITY_ERROR = 0xE6
    KCV_ERROR = 0xE7
    LENGTH_ERROR = 0xE8
    ILLEGAL_DATA = 0xE9
    PARAMETER_ERROR = 0xEB
    AUTH_FAILED = 0xEC
    AUTH_LOCKED = 0xED
    INPUT_TIMEOUT = 0xEE
    OTHER = 0xEF


RTN_TEXT = {
    Rtn.LOW_BATTERY: "low battery", Rtn.NO_IMK: "no IMK", Rtn.NO_MASTER_KEY: "no master key",
    Rtn.BAD_KEY_LENGTH: "bad key length", Rtn.NO_KEY_INDEX: "key index does not exist",
    Rtn.NO_SUCH_KEY: "no such key", Rtn.PARITY_ERROR: "parity error", Rtn.KCV_ERROR: "KCV error",
    Rtn.LENGTH_ERROR: "command length error", Rtn.ILLEGAL_DATA: "illegal data",
    Rtn.PARAMETER_ERROR: "parameter error", Rtn.AUTH_FAILED: "authentication failed",
    Rtn.AUTH_LOCKED: "authentication locked", Rtn.INPUT_TIMEOUT: "input timeout", Rtn.OTHER: "other error",
}


def rtn_ok(code: int) -> bool:
    return 0x60 <= code <= 0x9F


def rtn_text(code: int) -> str:
    if rtn_ok(code):
        return "OK"
    try:
        return RTN_TEXT[Rtn(code)]
    except ValueError:
        return f"unknown return code 0x{code:02X}"


class KeyPart(enum.Enum):
    """How a plaintext master key arrives (the ceremony loads components)."""

    WHOLE = "0"
    FIRST_COMPONENT = "1"  # replaces the slot
    NEXT_COMPONENT = "2"  # XOR-combined into the slot


class Usage(enum.IntEnum):
    PIN = 0x33
    MAC = 0x35
    DATA = 0x36


class PinFormat(enum.IntEnum):
    ISO0 = 0x20
    ISO3 = 0x23


class MacAlgorithm(enum.IntEnum):
    X919 = 0x39  # '9': ANSI X9.19 retail MAC, 16-byte 3DES key
    SM4_CBC = 0x53  # 'S': SM4 CBC-MAC, zero IV, zero padding


KEY_LENGTH_CODES = {8: 0x31, 16: 0x32, 24: 0x33}
KEY_LENGTHS = {v: k for k, v in KEY_LENGTH_CODES.items()}
MASTER_SLOTS = range(0x01, 0x20)
WORK_SLOTS = range(0x01, 0x40)
AUTH_KEY_ALGORITHM = Algorithm.TDES
CHALLENGE_BYTES = 8
HEX_DIGITS = frozenset(b"0123456789ABCDEFabcdef")
PIN_FORMAT_NUMBER = {PinFormat.ISO0: 0, PinFormat.ISO3: 3}


def slot_hex(slot: int) -> bytes:
    return f"{slot:02X}".encode("ascii")


def hexa(data: bytes) -> bytes:
    return data.hex().upper().encode("ascii")


def unhex(text: bytes) -> bytes:
    """ASCII hex -> bytes; ValueError on anything else."""
    if not all(ch in HEX_DIGITS for ch in text):
        raise ValueError("not ASCII hex")
    return bytes.fromhex(text.decode("ascii"))
