"""Resident ID card identity: the 256-byte UCS-2LE text block and its validation.

Field offsets (GA 467 readers, see docs/kiosk-devices.md); sex per GB/T 2261.1, nation per
GB 3304 (current names), ID number per GB 11643-1999 with its ISO 7064 MOD 11-2 check digit.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from kiosk.errors import CardDataError

DEVICE = "idcard"
TEXT_BLOCK_LEN = 256
TEXT_ENCODING = "utf-16-le"
PAD_CHAR = " "
LONG_TERM = "长期"  # validity end of a card that never expires

# (offset, length in bytes) of each field of the text block
NAME_FIELD = (0, 30)
SEX_FIELD = (30, 2)
NATION_FIELD = (32, 4)
BIRTH_FIELD = (36, 16)
ADDRESS_FIELD = (52, 70)
ID_NUMBER_FIELD = (122, 36)
AUTHORITY_FIELD = (158, 30)
VALID_FROM_FIELD = (188, 16)
VALID_TO_FIELD = (204, 16)
RESERVED_FIELD = (220, 36)

ID_NUMBER_LEN = 18
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
ID_BIRTH_SLICE = slice(6, 14)
ID_SEX_DIGIT = 16
DATE_FORMAT = "%Y%m%d"


class Sex(enum.IntEnum):
    """GB/T 2261.1-2003 human sex codes."""

    UNKNOWN = 0
    MALE = 1
    FEMALE = 2
    UNSPECIFIED = 9

    @property
    def label_zh(self) -> str:
        return {0: "未知", 1: "男", 2: "女", 9: "未说明"}[self.value]


NATIONS: dict[str, str] = {f"{i:02d}": name for i, name in enumerate((
    "汉", "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满", "侗", "瑶", "白", "土家",
    "哈尼", "哈萨克", "傣", "黎", "傈僳", "佤", "畲", "高山", "拉祜", "水", "东乡", "纳西", "景颇",
    "柯尔克孜", "土", "达斡尔", "仫佬", "羌", "布朗", "撒拉", "毛南", "仡佬", "锡伯", "阿昌", "普米",
    "塔吉克", "怒", "乌孜别克", "俄罗斯", "鄂温克", "德昂", "保安", "裕固", "京", "塔塔尔", "独龙",
    "鄂伦春", "赫哲", "门巴", "珞巴", "基诺"), start=1)}
NATIONS["97"] = "其他"
NATIONS["98"] = "外国血统中国籍人士"


def id_check_char(first17: str) -> str:
    """GB 11643 / ISO 7064 MOD 11-2 check character of the first 17 digits."""
    if len(first17) != ID_NUMBER_LEN - 1 or not first17.isascii() or not first17.isdigit():
        raise ValueError("need exactly 17 digits")
    return ID_CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def id_number_valid(number: str) -> bool:
    """True when ``number`` is 18 characters with a correct check character."""
    if len(number) != ID_NUMBER_LEN:
        return False
    try:
        return id_check_char(number[:17]) == number[17].upper()
    except ValueError:
        return False


def mask_id_number(number: str) -> str:
    """``110105********002X`` style mask for screens and receipts."""
    return number[:6] + "*" * (len(number) - 10) + number[-4:] if len(number) > 10 else "*" * len(number)


@dataclass(frozen=True)
class Identity:
    """The holder's data from the card, validated on construction."""

    name: str
    sex: Sex
    nation_code: str
    birth_date: dt.date
    address: str
    id_number: str
    authority: str
    valid_from: dt.date
    valid_to: dt.date | None  # None = 长期 (long-term)

    def __post_init__(self) -> None:
        if not self.name:
            raise CardDataError(DEVICE, "empty name")
        if self.nation_code not in NATIONS:
            raise CardDataError(DEVICE, f"unknown nation code {self.nation_code!r}")
        if not id_number_valid(self.id_number):
            raise CardDataError(DEVICE, "ID number check digit does not match")
        if self.id_number[ID_BIRTH_SLICE] != self.birth_date.strftime(DATE_FORMAT):
            raise CardDataError(DEVICE, "ID number does not carry the birth date")
        parity_sex = Sex.MALE if int(self.id_number[ID_SEX_DIGIT]) % 2 else Sex.FEMALE
        if self.sex in (Sex.MALE, Sex.FEMALE) and self.sex is not parity_sex:
            raise CardDataError(DEVICE, "ID number sex digit does not match the sex field")
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise CardDataError(DEVICE, "validity ends before it starts")

    @property
    def nation(self) -> str:
        return NATIONS[self.nation_code]

    @property
    def long_term(self) -> bool:
        return self.valid_to is None

    def is_valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def __repr__(self) -> str:  # keep personal data out of logs and tracebacks
        return f"Identity(id_number={mask_id_number(self.id_number)!r})"


def _field(block: bytes, field: tuple[int, int]) -> str:
    offset, length = field
    try:
        return block[offset:offset + length].decode(TEXT_ENCODING).rstrip(PAD_CHAR + "\x00")
    except UnicodeDecodeError as exc:
        raise CardDataError(DEVICE, f"field at offset {offset} is not UCS-2") from exc


def _date(text: str, what: str) -> dt.date:
    try:
        return dt.datetime.strptime(text, DATE_FORMAT).date()
    except ValueError as exc:
        raise CardDataError(DEVICE, f"{what} is not a YYYYMMDD date") from exc


def parse_text_block(block: bytes) -> Identity:
    """Decode and validate the 256-byte text block; raises CardDataError."""
    if len(block) != TEXT_BLOCK_LEN:
        raise CardDataError(DEVICE, f"text block is {len(block)} bytes, expected {TEXT_BLOCK_LEN}")
    sex_text = _field(block, SEX_FIELD)
    if sex_text not in {str(s.value) for s in Sex}:
        raise CardDataError(DEVICE, f"bad sex code {sex_text!r}")
    valid_to_text = _field(block, VALID_TO_FIELD)
    return Identity(
        name=_field(block, NAME_FIELD),
        sex=Sex(int(sex_text)),
        nation_code=_field(block, NATION_FIELD),
        birth_date=_date(_field(block, BIRTH_FIELD), "birth date"),
        address=_field(block, ADDRESS_FIELD),
        id_number=_field(block, ID_NUMBER_FIELD).upper(),
        authority=_field(block, AUTHORITY_FIELD),
        valid_from=_date(_field(block, VALID_FROM_FIELD), "validity start"),
        valid_to=None if valid_to_text == LONG_TERM else _date(valid_to_text, "validity end"),
    )


def _put(text: str, field: tuple[int, int]) -> bytes:
    raw = text.encode(TEXT_ENCODING)
    if len(raw) > field[1]:
        raise ValueError(f"{text!r} does not fit in {field[1]} bytes")
    return raw + PAD_CHAR.encode(TEXT_ENCODING) * ((field[1] - len(raw)) // 2)


def encode_text_fields(name: str, sex: str, nation_code: str, birth: str, address: str, id_number: str,
                       authority: str, valid_from: str, valid_to: str) -> bytes:
    """Build a text block from raw field strings (simulators: may build invalid cards)."""
    block = b"".join((
        _put(name, NAME_FIELD), _put(sex, SEX_FIELD), _put(nation_code, NATION_FIELD),
        _put(birth, BIRTH_FIELD), _put(address, ADDRESS_FIELD), _put(id_number, ID_NUMBER_FIELD),
        _put(authority, AUTHORITY_FIELD), _put(valid_from, VALID_FROM_FIELD), _put(valid_to, VALID_TO_FIELD),
        _put("", RESERVED_FIELD)))
    return block


def encode_text_block(identity: Identity) -> bytes:
    """The 256-byte text block of ``identity``."""
    return encode_text_fields(
        identity.name, str(identity.sex.value), identity.nation_code,
        identity.birth_date.strftime(DATE_FORMAT), identity.address, identity.id_number,
        identity.authority, identity.valid_from.strftime(DATE_FORMAT),
        LONG_TERM if identity.valid_to is None else identity.valid_to.strftime(DATE_FORMAT))
