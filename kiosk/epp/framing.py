"""SZZT ZT598-family serial framing of the encrypted PIN pad (pure).

Request ``STX · LLL · CMD · DATA · ETX · LRC`` and response ``STX · LLL · RTN · DATA · ETX · LRC``:
LLL = 3 ASCII digits counting CMD/RTN + DATA (``000`` when above 999, the frame then ends at
ETX); LRC = XOR of every byte after STX up to and including ETX, sent as 2 ASCII hex digits.
During PIN entry the pad sends key events as single bytes outside frames (never the digit).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from kiosk.errors import FrameError

DEVICE = "epp"
STX = 0x02
ETX = 0x03
LEN_DIGITS = 3
LRC_DIGITS = 2
LONG_FRAME_LEN = 0  # LLL for frames whose body exceeds 999 bytes
MAX_SHORT_BODY = 999
MAX_LONG_BODY = 4096


class KeyEvent(enum.IntEnum):
    """Bytes the pad sends during PIN entry. A digit key only ever says ``DIGIT``."""

    DIGIT = 0x2A  # '*': a digit was pressed (which one stays inside the pad)
    CLEAR = 0x08
    CANCEL = 0x1B
    ENTER = 0x0D
    TIMEOUT = 0x1C  # the pad ended PIN entry after its input timeout


KEY_EVENT_BYTES = frozenset(int(k) for k in KeyEvent)


@dataclass(frozen=True)
class Frame:
    code: int  # CMD in a request, RTN in a response
    data: bytes


def lrc(data: bytes) -> bytes:
    value = 0
    for byte in data:
        value ^= byte
    return f"{value:02X}".encode("ascii")


def encode_frame(code: int, data: bytes = b"") -> bytes:
    body = bytes((code,)) + data
    length = len(body) if len(body) <= MAX_SHORT_BODY else LONG_FRAME_LEN
    inner = f"{length:03d}".encode("ascii") + body + bytes((ETX,))
    return bytes((STX,)) + inner + lrc(inner)


def decode_frame(frame: bytes) -> Frame:
    """Parse exactly one frame."""
    if len(frame) < 1 + LEN_DIGITS + 1 + 1 + LRC_DIGITS or frame[0] != STX:
        raise FrameError(DEVICE, "frame too short or missing STX")
    digits = frame[1:1 + LEN_DIGITS]
    if not digits.isdigit():
        raise FrameError(DEVICE, "length field is not 3 ASCII digits")
    length = int(digits)
    body_end = len(frame) - LRC_DIGITS - 1
    if length != LONG_FRAME_LEN and 1 + LEN_DIGITS + length != body_end:
        raise FrameError(DEVICE, "frame size does not match its length field")
    if frame[body_end] != ETX:
        raise FrameError(DEVICE, "missing ETX")
    if lrc(frame[1:body_end + 1]) != frame[body_end + 1:].upper():
        raise FrameError(DEVICE, "LRC mismatch")
    body = frame[1 + LEN_DIGITS:body_end]
    if not body:
        raise FrameError(DEVICE, "empty frame body")
    return Frame(body[0], bytes(body[1:]))


class StreamDecoder:
    """Splits a byte stream into frames and key-event bytes, in arrival order.

    Bytes outside frames that are not key events are dropped and counted; a broken frame is
    reported as a :class:`FrameError` item so the caller decides what to do.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.dropped = 0

    def feed(self, data: bytes) -> list[Frame | KeyEvent | FrameError]:
        self._buf.extend(data)
        out: list[Frame | KeyEvent | FrameError] = []
        while self._buf:
            first = self._buf[0]
            if first != STX:
                del self._buf[0]
                if first in KEY_EVENT_BYTES:
                    out.append(KeyEvent(first))
                else:
                    self.dropped += 1
                continue
            end = self._frame_end()
            if end is None:
                break
            frame = bytes(self._buf[:end])
            del self._buf[:end]
            try:
                out.append(decode_frame(frame))
            except FrameError as exc:
                out.append(exc)
        return out

    def _frame_end(self) -> int | None:
        """Index after the frame starting the buffer, or None when incomplete."""
        if len(self._buf) < 1 + LEN_DIGITS:
            return None
        digits = bytes(self._buf[1:1 + LEN_DIGITS])
        if not digits.isdigit():
            return 1  # a lone STX: let decode_frame report it, resync after it
        length = int(digits)
        if length == LONG_FRAME_LEN:
            etx = self._buf.find(bytes((ETX,)), 1 + LEN_DIGITS)
            if etx < 0:
                if len(self._buf) > MAX_LONG_BODY:
                    return len(self._buf)
                return None
            end = etx + 1 + LRC_DIGITS
        else:
            end = 1 + LEN_DIGITS + length + 1 + LRC_DIGITS
        return end if len(self._buf) >= end else None
