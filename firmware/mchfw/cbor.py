"""Minimal CBOR (RFC 8949) for the link: the subset mch_link's cbor2 produces and accepts.

Encodes int (any size up to 64 bits), bytes, str, list/tuple, dict, bool, None, float (as
float64, like cbor2's default) and Tag. Plain dicts are written with their keys in RFC 7049
canonical order (MicroPython dicts keep no insertion order, so this is the only deterministic
choice); an OrderedDict keeps its own order, which is how a decoded map is re-encoded byte for
byte. Decodes definite-length items only, into OrderedDict maps; garbage raises CBORError.
"""

import struct

try:
    from collections import OrderedDict
except ImportError:  # pragma: no cover - every port we ship has collections
    OrderedDict = dict  # type: ignore[misc,assignment]

MT_UINT = 0
MT_NINT = 1
MT_BYTES = 2
MT_TEXT = 3
MT_ARRAY = 4
MT_MAP = 5
MT_TAG = 6
MT_SIMPLE = 7

AI_1BYTE = 24
AI_2BYTE = 25
AI_4BYTE = 26
AI_8BYTE = 27
AI_INDEFINITE = 31

SIMPLE_FALSE = 20
SIMPLE_TRUE = 21
SIMPLE_NULL = 22
SIMPLE_UNDEFINED = 23

MAX_UINT64 = (1 << 64) - 1
MAX_DEPTH = 16  # nesting limit when decoding untrusted bytes


class CBORError(ValueError):
    """Bytes that are not CBOR of the subset we speak, or a value we cannot encode."""


class Tag:
    """A tagged item (major type 6)."""

    def __init__(self, tag: int, value: object) -> None:
        self.tag = tag
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tag) and other.tag == self.tag and other.value == self.value

    def __repr__(self) -> str:
        return f"Tag({self.tag}, {self.value!r})"


def _head(out: bytearray, major: int, n: int) -> None:
    mt = major << 5
    if n < AI_1BYTE:
        out.append(mt | n)
    elif n < 0x100:
        out.append(mt | AI_1BYTE)
        out.append(n)
    elif n < 0x10000:
        out.append(mt | AI_2BYTE)
        out.extend(struct.pack(">H", n))
    elif n < 0x100000000:
        out.append(mt | AI_4BYTE)
        out.extend(struct.pack(">I", n))
    elif n <= MAX_UINT64:
        out.append(mt | AI_8BYTE)
        out.extend(n.to_bytes(8, "big"))
    else:
        raise CBORError("integer too large for CBOR major types 0/1")


def _encode_key(key: object) -> bytes:
    out = bytearray()
    _encode(out, key, 0)
    return bytes(out)


def _canonical_order(item: bytes) -> tuple:
    return (len(item), item)


def _encode(out: bytearray, obj: object, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise CBORError("nesting too deep")
    if obj is None:
        out.append(MT_SIMPLE << 5 | SIMPLE_NULL)
    elif obj is True:
        out.append(MT_SIMPLE << 5 | SIMPLE_TRUE)
    elif obj is False:
        out.append(MT_SIMPLE << 5 | SIMPLE_FALSE)
    elif isinstance(obj, int):
        if obj >= 0:
            _head(out, MT_UINT, obj)
        else:
            _head(out, MT_NINT, -1 - obj)
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        _head(out, MT_BYTES, len(obj))
        out.extend(obj)
    elif isinstance(obj, str):
        data = obj.encode()
        _head(out, MT_TEXT, len(data))
        out.extend(data)
    elif isinstance(obj, (list, tuple)):
        _head(out, MT_ARRAY, len(obj))
        for item in obj:
            _encode(out, item, depth + 1)
    elif isinstance(obj, dict):
        _head(out, MT_MAP, len(obj))
        if type(obj) is OrderedDict and OrderedDict is not dict:
            for k, v in obj.items():
                _encode(out, k, depth + 1)
                _encode(out, v, depth + 1)
        else:
            pairs = [(_encode_key(k), v) for k, v in obj.items()]
            pairs.sort(key=lambda p: _canonical_order(p[0]))
            for kb, v in pairs:
                out.extend(kb)
                _encode(out, v, depth + 1)
    elif isinstance(obj, float):
        out.append(MT_SIMPLE << 5 | AI_8BYTE)
        out.extend(struct.pack(">d", obj))
    elif isinstance(obj, Tag):
        _head(out, MT_TAG, obj.tag)
        _encode(out, obj.value, depth + 1)
    elif isinstance(obj, Raw):
        out.extend(obj.data)
    else:
        raise CBORError(f"cannot encode {type(obj).__name__}")


def dumps(obj: object) -> bytes:
    out = bytearray()
    _encode(out, obj, 0)
    return bytes(out)


def _half_to_float(h: int) -> float:
    sign = -1.0 if h & 0x8000 else 1.0
    exp = (h >> 10) & 0x1F
    frac = h & 0x3FF
    if exp == 0:
        return sign * frac * 2.0 ** -24
    if exp == 0x1F:
        return sign * float("inf") if frac == 0 else float("nan")
    return sign * (1 + frac / 1024.0) * 2.0 ** (exp - 15)


class _Decoder:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise CBORError(f"truncated at byte {self.pos}")
        chunk = bytes(self.data[self.pos:end])
        self.pos = end
        return chunk

    def argument(self, ai: int) -> int:
        if ai < AI_1BYTE:
            return ai
        if ai == AI_1BYTE:
            return self.take(1)[0]
        if ai == AI_2BYTE:
            return struct.unpack(">H", self.take(2))[0]
        if ai == AI_4BYTE:
            return struct.unpack(">I", self.take(4))[0]
        if ai == AI_8BYTE:
            return int.from_bytes(self.take(8), "big")
        raise CBORError(f"indefinite or reserved length at byte {self.pos}")

    def item(self, depth: int) -> object:
        if depth > MAX_DEPTH:
            raise CBORError("nesting too deep")
        ib = self.take(1)[0]
        major, ai = ib >> 5, ib & 0x1F
        if major == MT_SIMPLE:
            return self.simple(ai)
        n = self.argument(ai)
        if major == MT_UINT:
            return n
        if major == MT_NINT:
            return -1 - n
        if major == MT_BYTES:
            return self.take(n)
        if major == MT_TEXT:
            try:
                return self.take(n).decode()
            except UnicodeError:
                raise CBORError("text string is not UTF-8") from None
        if major == MT_ARRAY:
            if n > len(self.data) - self.pos:
                raise CBORError("array longer than the input")
            return [self.item(depth + 1) for _ in range(n)]
        if major == MT_MAP:
            if n > len(self.data) - self.pos:
                raise CBORError("map longer than the input")
            m = OrderedDict()
            for _ in range(n):
                k = self.item(depth + 1)
                if isinstance(k, (list, dict)):
                    raise CBORError("unhashable map key")
                m[k] = self.item(depth + 1)
            return m
        return Tag(n, self.item(depth + 1))

    def simple(self, ai: int) -> object:
        if ai == SIMPLE_FALSE:
            return False
        if ai == SIMPLE_TRUE:
            return True
        if ai == SIMPLE_NULL:
            return None
        if ai == AI_2BYTE:
            return _half_to_float(struct.unpack(">H", self.take(2))[0])
        if ai == AI_4BYTE:
            return struct.unpack(">f", self.take(4))[0]
        if ai == AI_8BYTE:
            return struct.unpack(">d", self.take(8))[0]
        raise CBORError(f"unsupported simple value {ai}")


def loads(data: bytes) -> object:
    """Decode exactly one item; trailing bytes are an error. Raises CBORError only."""
    dec = _Decoder(data)
    try:
        obj = dec.item(0)
    except CBORError:
        raise
    except (ValueError, TypeError, IndexError, OverflowError, MemoryError) as exc:
        raise CBORError(f"malformed: {exc.__class__.__name__}") from None
    if dec.pos != len(dec.data):
        raise CBORError(f"{len(dec.data) - dec.pos} trailing bytes")
    return obj


class Raw:
    """Bytes that are already CBOR, spliced into the output as they are (outbox bodies)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
