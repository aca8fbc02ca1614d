"""A strict CBOR (RFC 8949) decoder for untrusted bytes: linear work, no semantic tags.

cbor2 interprets semantic tags while it decodes (tag 4 decimal fractions, tag 30 rationals,
bignums, dates, regular expressions...), some at super-linear cost: a hostile 256 KiB payload
took ~5 s before any key was checked. Here the only things that decode are what the link
speaks: unsigned and negative integers up to 64 bits, byte and text strings (UTF-8
checked), arrays, maps with integer/text/byte keys (no duplicates), false/true/null and
floats; a tag decodes only if the caller lists it (the COSE_Encrypt0 tag). Definite lengths
only, nesting bounded, trailing bytes refused. Every step consumes input, so the work is
linear in the payload size. Anything else raises `CBORDecodeError` naming the byte offset.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from mch_link.errors import LinkError

MAX_DEPTH = 16

_MT_UINT, _MT_NINT, _MT_BYTES, _MT_TEXT, _MT_ARRAY, _MT_MAP, _MT_TAG, _MT_SIMPLE = range(8)
_AI_1, _AI_2, _AI_4, _AI_8 = 24, 25, 26, 27
_SIMPLE_FALSE, _SIMPLE_TRUE, _SIMPLE_NULL = 20, 21, 22
_SHORT_TEXT, _SHORT_TEXT_END = _MT_TEXT << 5, _MT_TEXT << 5 | _AI_1  # text of 0..23 bytes, length in the head
_NULL = _MT_SIMPLE << 5 | _SIMPLE_NULL
_HALF, _SINGLE, _DOUBLE = struct.Struct(">e"), struct.Struct(">f"), struct.Struct(">d")
_U16, _U32, _U64 = struct.Struct(">H"), struct.Struct(">I"), struct.Struct(">Q")


class CBORDecodeError(LinkError):
    """Bytes that are not CBOR of the subset the link speaks."""


@dataclass(frozen=True)
class Tagged:
    """A tagged item whose tag the caller allowed."""

    tag: int
    value: Any


class _Decoder:
    __slots__ = ("data", "end", "tags")

    def __init__(self, data: bytes, tags: frozenset[int]) -> None:
        self.data = data
        self.end = len(data)
        self.tags = tags

    def fail(self, pos: int, what: str) -> CBORDecodeError:
        return CBORDecodeError(f"{what} at byte {pos}")

    def item(self, pos: int, depth: int) -> tuple[Any, int]:
        data = self.data
        if pos >= self.end:
            raise self.fail(pos, "truncated")
        start = pos
        ib = data[pos]
        major, ai = ib >> 5, ib & 0x1F
        pos += 1
        if major == _MT_SIMPLE:
            return self.simple(ai, pos)
        if ai < _AI_1:
            n = ai
        elif ai == _AI_1:
            if pos + 1 > self.end:
                raise self.fail(pos, "truncated")
            n = data[pos]
            pos += 1
        elif ai == _AI_2:
            if pos + 2 > self.end:
                raise self.fail(pos, "truncated")
            n = _U16.unpack_from(data, pos)[0]
            pos += 2
        elif ai == _AI_4:
            if pos + 4 > self.end:
                raise self.fail(pos, "truncated")
            n = _U32.unpack_from(data, pos)[0]
            pos += 4
        elif ai == _AI_8:
            if pos + 8 > self.end:
                raise self.fail(pos, "truncated")
            n = _U64.unpack_from(data, pos)[0]
            pos += 8
        else:
            raise self.fail(pos - 1, "indefinite length or reserved value")
        if major == _MT_UINT:
            return n, pos
        if major == _MT_NINT:
            return -1 - n, pos
        if major == _MT_BYTES or major == _MT_TEXT:
            stop = pos + n
            if stop > self.end:
                raise self.fail(pos, "string longer than the input")
            raw = data[pos:stop]
            if major == _MT_BYTES:
                return bytes(raw), stop
            try:
                return str(raw, "utf-8"), stop
            except UnicodeDecodeError:
                raise self.fail(pos, "text string is not UTF-8") from None
        if depth >= MAX_DEPTH:
            raise self.fail(pos, "nesting too deep")
        if major == _MT_ARRAY:
            if n > self.end - pos:  # every element takes at least one byte
                raise self.fail(pos, "array longer than the input")
            out: list[Any] = []
            append = out.append
            end = self.end
            for _ in range(n):
                ib = data[pos] if pos < end else 0xFF
                if ib < _AI_1:  # fast paths for unsigned integers (short reads raise IndexError/struct.error,
                    append(ib)  # which `loads` reports as truncated)
                    pos += 1
                elif ib <= _AI_8:
                    value, pos = _uint(data, ib, pos)
                    append(value)
                else:
                    value, pos = self.item(pos, depth + 1)
                    append(value)
            return out, pos
        if major == _MT_MAP:
            if 2 * n > self.end - pos:
                raise self.fail(pos, "map longer than the input")
            m: dict[Any, Any] = {}
            end = self.end
            for _ in range(n):
                at = pos
                ib = data[pos] if pos < end else 0xFF
                if _SHORT_TEXT <= ib < _SHORT_TEXT_END and pos + 1 + (ib - _SHORT_TEXT) <= end:
                    stop = pos + 1 + ib - _SHORT_TEXT  # fast path: the short text keys records use
                    try:
                        key = str(data[pos + 1:stop], "utf-8")
                    except UnicodeDecodeError:
                        raise self.fail(pos, "text string is not UTF-8") from None
                    pos = stop
                else:
                    key, pos = self.item(pos, depth + 1)
                    if key.__class__ not in (int, str, bytes):
                        raise self.fail(at, "map key is not an integer, text or byte string")
                if key in m:
                    raise self.fail(at, "duplicate map key")
                ib = data[pos] if pos < end else 0xFF
                if ib < _AI_1:  # fast paths as in arrays, and null
                    m[key] = ib
                    pos += 1
                elif ib <= _AI_8:
                    m[key], pos = _uint(data, ib, pos)
                elif ib == _NULL:
                    m[key] = None
                    pos += 1
                else:
                    m[key], pos = self.item(pos, depth + 1)
            return m, pos
        if n not in self.tags:  # major type 6
            raise self.fail(start, f"tag {n} is not allowed here")
        value, pos = self.item(pos, depth + 1)
        return Tagged(n, value), pos

    def simple(self, ai: int, pos: int) -> tuple[Any, int]:
        if ai == _SIMPLE_FALSE:
            return False, pos
        if ai == _SIMPLE_TRUE:
            return True, pos
        if ai == _SIMPLE_NULL:
            return None, pos
        fmt = {_AI_2: _HALF, _AI_4: _SINGLE, _AI_8: _DOUBLE}.get(ai)
        if fmt is None:
            raise self.fail(pos - 1, f"simple value {ai} is not allowed")
        if pos + fmt.size > self.end:
            raise self.fail(pos, "truncated")
        return fmt.unpack_from(self.data, pos)[0], pos + fmt.size


def _uint(data: bytes, ib: int, pos: int) -> tuple[int, int]:
    """An unsigned integer whose head `ib` (24..27) is at `pos`."""
    if ib == _AI_1:
        return data[pos + 1], pos + 2
    if ib == _AI_2:
        return _U16.unpack_from(data, pos + 1)[0], pos + 3
    if ib == _AI_4:
        return _U32.unpack_from(data, pos + 1)[0], pos + 5
    return _U64.unpack_from(data, pos + 1)[0], pos + 9


def loads(data: bytes, tags: frozenset[int] = frozenset()) -> Any:
    """Decode exactly one item of `data`; raise CBORDecodeError on anything outside the subset."""
    try:
        value, pos = _Decoder(data, tags).item(0, 0)
    except (IndexError, struct.error):
        raise CBORDecodeError("truncated") from None
    if pos != len(data):
        raise CBORDecodeError(f"{len(data) - pos} trailing bytes after the item")
    return value
