"""ISO 7816-4 command/response APDUs for the EMV/PBOC read-only flow: pure builders and parsers.

Only the commands a read-only account lookup needs have builders here. Instructions that change
card state or try the PIN (GENERATE AC, VERIFY, ...) are named so that the channel can refuse them.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.bankcard.errors import CardReadError

CLA_ISO = 0x00
CLA_PROPRIETARY = 0x80

INS_SELECT = 0xA4
INS_READ_RECORD = 0xB2
INS_GET_PROCESSING_OPTIONS = 0xA8
INS_GET_RESPONSE = 0xC0
INS_GET_DATA = 0xCA
# state-changing or PIN commands: never sent by the kiosk (see channel.READ_ONLY_COMMANDS)
INS_VERIFY = 0x20
INS_CHANGE_PIN = 0x24
INS_GENERATE_AC = 0xAE
INS_EXTERNAL_AUTHENTICATE = 0x82
INS_INTERNAL_AUTHENTICATE = 0x88
INS_GET_CHALLENGE = 0x84
INS_APPLICATION_BLOCK = 0x1E
INS_CARD_BLOCK = 0x16
INS_PUT_DATA = 0xDA
INS_UPDATE_RECORD = 0xDC

P1_SELECT_BY_NAME = 0x04
P2_SELECT_FIRST = 0x00
P2_SELECT_NEXT = 0x02
P2_READ_RECORD_BY_NUMBER = 0x04
SFI_SHIFT = 3
MAX_SFI = 30

SW_OK = 0x9000
SW1_BYTES_AVAILABLE = 0x61
SW1_WRONG_LE = 0x6C
SW_SELECTED_FILE_INVALIDATED = 0x6283
SW_CONDITIONS_NOT_SATISFIED = 0x6985
SW_FUNCTION_NOT_SUPPORTED = 0x6A81
SW_FILE_NOT_FOUND = 0x6A82
SW_RECORD_NOT_FOUND = 0x6A83
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00

SHORT_LE_MAX = 256
SHORT_LC_MAX = 255

SW_NAMES = {
    SW_OK: "OK",
    SW_SELECTED_FILE_INVALIDATED: "application blocked",
    SW_CONDITIONS_NOT_SATISFIED: "conditions of use not satisfied",
    SW_FUNCTION_NOT_SUPPORTED: "function not supported",
    SW_FILE_NOT_FOUND: "file or application not found",
    SW_RECORD_NOT_FOUND: "record not found",
    SW_INS_NOT_SUPPORTED: "instruction not supported",
    SW_CLA_NOT_SUPPORTED: "class not supported",
}


def sw_text(sw: int) -> str:
    return f"SW {sw:04X} ({SW_NAMES.get(sw, 'unexpected')})"


@dataclass(frozen=True)
class CommandApdu:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None  # 1..256 bytes expected, None for no Le field; 256 is encoded as 00

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            if not 0 <= getattr(self, name) <= 0xFF:
                raise CardReadError(f"APDU {name} out of range")
        if len(self.data) > SHORT_LC_MAX:
            raise CardReadError(f"APDU data longer than {SHORT_LC_MAX} bytes")
        if self.le is not None and not 1 <= self.le <= SHORT_LE_MAX:
            raise CardReadError(f"APDU Le {self.le} out of range")

    def encode(self) -> bytes:
        out = bytes([self.cla, self.ins, self.p1, self.p2])
        if self.data:
            out += bytes([len(self.data)]) + self.data
        if self.le is not None:
            out += bytes([self.le % SHORT_LE_MAX])
        return out

    def with_le(self, le: int) -> CommandApdu:
        return CommandApdu(self.cla, self.ins, self.p1, self.p2, self.data, le)

    @property
    def name(self) -> str:
        return INS_NAMES.get(self.ins, f"INS {self.ins:02X}")

    def __repr__(self) -> str:  # never show command data: it may carry account data
        return f"CommandApdu({self.name}, CLA={self.cla:02X}, P1={self.p1:02X}, P2={self.p2:02X}, Lc={len(self.data)})"


INS_NAMES = {
    INS_SELECT: "SELECT",
    INS_READ_RECORD: "READ RECORD",
    INS_GET_PROCESSING_OPTIONS: "GET PROCESSING OPTIONS",
    INS_GET_RESPONSE: "GET RESPONSE",
    INS_GET_DATA: "GET DATA",
    INS_VERIFY: "VERIFY",
    INS_CHANGE_PIN: "CHANGE PIN",
    INS_GENERATE_AC: "GENERATE AC",
    INS_EXTERNAL_AUTHENTICATE: "EXTERNAL AUTHENTICATE",
    INS_INTERNAL_AUTHENTICATE: "INTERNAL AUTHENTICATE",
    INS_GET_CHALLENGE: "GET CHALLENGE",
    INS_APPLICATION_BLOCK: "APPLICATION BLOCK",
    INS_CARD_BLOCK: "CARD BLOCK",
    INS_PUT_DATA: "PUT DATA",
    INS_UPDATE_RECORD: "UPDATE RECORD",
}


@dataclass(frozen=True, repr=False)
class ResponseApdu:
    data: bytes
    sw: int

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK

    def __repr__(self) -> str:
        return f"ResponseApdu({len(self.data)} bytes, {sw_text(self.sw)})"


def parse_response(raw: bytes) -> ResponseApdu:
    if len(raw) < 2:
        raise CardReadError(f"response of {len(raw)} bytes has no status word")
    return ResponseApdu(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))


def parse_command(raw: bytes) -> CommandApdu:
    """Parse a short command APDU (cases 1-4); used by the virtual card."""
    if len(raw) < 4:
        raise CardReadError("command shorter than 4 bytes")
    cla, ins, p1, p2 = raw[:4]
    body = raw[4:]
    if not body:
        return CommandApdu(cla, ins, p1, p2)
    if len(body) == 1:
        return CommandApdu(cla, ins, p1, p2, b"", body[0] or SHORT_LE_MAX)
    lc = body[0]
    if lc == 0 or len(body) not in (1 + lc, 2 + lc):
        raise CardReadError("command length does not match Lc")
    data = body[1:1 + lc]
    le = (body[1 + lc] or SHORT_LE_MAX) if len(body) == 2 + lc else None
    return CommandApdu(cla, ins, p1, p2, data, le)


def select_by_name(name: bytes, *, next_occurrence: bool = False) -> CommandApdu:
    p2 = P2_SELECT_NEXT if next_occurrence else P2_SELECT_FIRST
    return CommandApdu(CLA_ISO, INS_SELECT, P1_SELECT_BY_NAME, p2, name, SHORT_LE_MAX)


def read_record(sfi: int, record: int) -> CommandApdu:
    if not 1 <= sfi <= MAX_SFI or not 1 <= record <= 0xFF:
        raise CardReadError(f"bad record reference SFI {sfi} record {record}")
    return CommandApdu(CLA_ISO, INS_READ_RECORD, record, (sfi << SFI_SHIFT) | P2_READ_RECORD_BY_NUMBER,
                       b"", SHORT_LE_MAX)


def get_processing_options(command_template: bytes) -> CommandApdu:
    return CommandApdu(CLA_PROPRIETARY, INS_GET_PROCESSING_OPTIONS, 0x00, 0x00, command_template, SHORT_LE_MAX)


def get_response(length: int) -> CommandApdu:
    return CommandApdu(CLA_ISO, INS_GET_RESPONSE, 0x00, 0x00, b"", length or SHORT_LE_MAX)
