"""BER-TLV codec (ISO/IEC 8825-1 as profiled by EMV Book 3 Annex B): pure functions over bytes.

Tags are kept as integers of their encoded bytes (``0x9F38``); lengths use the short form or the
long forms ``81``..``84``; constructed objects (bit 6 of the first tag byte) are parsed into
children. ``00`` bytes before, between and after objects are skipped (EMV Annex B).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from kiosk.bankcard.errors import TlvError

TAG_CONSTRUCTED_BIT = 0x20
TAG_NUMBER_MASK = 0x1F
TAG_MULTIBYTE = 0x1F
TAG_MORE_BIT = 0x80
MAX_TAG_BYTES = 4
LENGTH_LONG_FORM = 0x80
MAX_LENGTH_BYTES = 4
PADDING_BYTE = 0x00
MAX_DEPTH = 10


@dataclass(frozen=True)
class Tlv:
    """One data object: ``value`` holds the raw bytes; ``children`` is set for constructed tags."""

    tag: int
    value: bytes
    children: tuple[Tlv, ...] = ()

    @property
    def constructed(self) -> bool:
        return is_constructed(self.tag)

    def encode(self) -> bytes:
        return encode_tlv(self.tag, self.value)

    def find(self, tag: int) -> Tlv | None:
        """First descendant (depth first, this object included) with ``tag``."""
        return find(self, tag=tag)

    def __repr__(self) -> str:  # values may be account data: show only the shape
        return f"Tlv(tag=0x{self.tag:X}, length={len(self.value)}, children={len(self.children)})"


def tag_bytes(tag: int) -> bytes:
    """Encoded bytes of an integer tag; raises TlvError if it is not a well-formed BER tag."""
    if tag <= 0:
        raise TlvError(f"bad tag {tag}")
    raw = tag.to_bytes((tag.bit_length() + 7) // 8, "big")
    parsed, end = read_tag(raw, 0)
    if end != len(raw) or parsed != tag:
        raise TlvError(f"malformed tag 0x{tag:X}")
    return raw


def is_constructed(tag: int) -> bool:
    first = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")[0]
    return bool(first & TAG_CONSTRUCTED_BIT)


def encode_length(length: int) -> bytes:
    if length < 0:
        raise TlvError(f"negative length {length}")
    if length < LENGTH_LONG_FORM:
        return bytes([length])
    n = (length.bit_length() + 7) // 8
    if n > MAX_LENGTH_BYTES:
        raise TlvError(f"length {length} too large")
    return bytes([LENGTH_LONG_FORM | n]) + length.to_bytes(n, "big")


def encode_tlv(tag: int, value: bytes) -> bytes:
    return tag_bytes(tag) + encode_length(len(value)) + bytes(value)


def build(tag: int, *items: Tlv | bytes) -> Tlv:
    """A data object from a value (primitive) or from children (constructed)."""
    if is_constructed(tag):
        children = tuple(i for i in items if isinstance(i, Tlv))
        if len(children) != len(items):
            raise TlvError(f"constructed tag 0x{tag:X} takes Tlv children")
        return Tlv(tag, b"".join(c.encode() for c in children), children)
    if len(items) != 1 or not isinstance(items[0], bytes | bytearray):
        raise TlvError(f"primitive tag 0x{tag:X} takes one bytes value")
    return Tlv(tag, bytes(items[0]))


def encode_all(objects: Iterable[Tlv]) -> bytes:
    return b"".join(o.encode() for o in objects)


def decode(data: bytes) -> tuple[Tlv, ...]:
    """Parse a sequence of data objects; raises TlvError on any malformed input."""
    return _decode(bytes(data), 0)


def decode_one(data: bytes, tag: int) -> Tlv:
    """Parse data that must be exactly one object with ``tag`` (padding aside)."""
    objects = decode(data)
    if len(objects) != 1 or objects[0].tag != tag:
        got = ", ".join(f"0x{o.tag:X}" for o in objects) or "nothing"
        raise TlvError(f"expected one 0x{tag:X} template, got {got}")
    return objects[0]


def find(objects: Tlv | Iterable[Tlv], *, tag: int) -> Tlv | None:
    for obj in walk(objects):
        if obj.tag == tag:
            return obj
    return None


def walk(objects: Tlv | Iterable[Tlv]) -> Iterator[Tlv]:
    """Every object, depth first, parents before children."""
    stack = [objects] if isinstance(objects, Tlv) else list(objects)
    stack.reverse()
    while stack:
        obj = stack.pop()
        yield obj
        stack.extend(reversed(obj.children))


def _decode(data: bytes, depth: int) -> tuple[Tlv, ...]:
    if depth > MAX_DEPTH:
        raise TlvError(f"nesting deeper than {MAX_DEPTH}")
    out: list[Tlv] = []
    pos = 0
    while pos < len(data):
        if data[pos] == PADDING_BYTE:
            pos += 1
            continue
        tag, pos = read_tag(data, pos)
        length, pos = read_length(data, pos)
        if pos + length > len(data):
            raise TlvError(f"tag 0x{tag:X}: length {length} runs past the end")
        value = data[pos:pos + length]
        pos += length
        children = _decode(value, depth + 1) if is_constructed(tag) else ()
        out.append(Tlv(tag, value, children))
    return tuple(out)


def read_tag(data: bytes, pos: int) -> tuple[int, int]:
    first = data[pos]
    tag = first
    pos += 1
    if first & TAG_NUMBER_MASK != TAG_MULTIBYTE:
        return tag, pos
    for i in range(1, MAX_TAG_BYTES):
        if pos >= len(data):
            raise TlvError("tag runs past the end")
        b = data[pos]
        pos += 1
        tag = (tag << 8) | b
        if not b & TAG_MORE_BIT:
            return tag, pos
        if i == MAX_TAG_BYTES - 1:
            break
    raise TlvError(f"tag longer than {MAX_TAG_BYTES} bytes")


def read_length(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise TlvError("length missing")
    first = data[pos]
    pos += 1
    if first < LENGTH_LONG_FORM:
        return first, pos
    n = first & ~LENGTH_LONG_FORM
    if n == 0 or n > MAX_LENGTH_BYTES:
        raise TlvError(f"unsupported length form 0x{first:02X}")
    if pos + n > len(data):
        raise TlvError("length runs past the end")
    return int.from_bytes(data[pos:pos + n], "big"), pos + n
