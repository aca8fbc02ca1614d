"""Compact encoding of one minute of one episode: 240 slots of uint16/uint8 arrays, zlib'd.

Layout (little-endian), before compression: fhr1, fhr2, mhr, toco as uint16 in quarter
units (value * 4, `NONE_U16` = no signal), then flags as uint8 (`FLAG_PRESENT`,
`FLAG_MOVEMENT`, `FLAG_MARK`). A slot without `FLAG_PRESENT` was never received. Values are
stored to 0.25 bpm / 0.25 toco unit, the resolution of the 4 Hz stream. The first byte of a
blob is `CODEC_VERSION`.
"""

from __future__ import annotations

import math
import sys
import zlib
from array import array
from dataclasses import dataclass, field

from fetal_monitor_station.errors import ArchiveError
from fetal_monitor_station.trace import SAMPLE_HZ, CtgSample

CODEC_VERSION = 1
SLOTS_PER_MINUTE = 60 * SAMPLE_HZ
QUANTUM = 4  # stored value = round(value * QUANTUM)
NONE_U16 = 0xFFFF
MAX_VALUE = (NONE_U16 - 1) / QUANTUM
FLAG_PRESENT = 0x01
FLAG_MOVEMENT = 0x02
FLAG_MARK = 0x04
ZLIB_LEVEL = 1
_CHANNELS = ("fhr1_bpm", "fhr2_bpm", "mhr_bpm", "toco")


def minute_of(t_s: float) -> tuple[int, int]:
    """(minute start in UNIX ms, slot index) of a sample time on the quarter-second grid."""
    q = int(round(t_s * SAMPLE_HZ))
    minute_q, slot = divmod(q, SLOTS_PER_MINUTE)
    return minute_q * 60_000, slot


def _q(v: float | None) -> int:
    if v is None or not math.isfinite(v) or v < 0 or v > MAX_VALUE:
        return NONE_U16
    return int(round(v * QUANTUM))


@dataclass
class MinuteBlock:
    minute_ms: int
    channels: list[array] = field(default_factory=lambda: [array("H", [NONE_U16]) * SLOTS_PER_MINUTE
                                                           for _ in _CHANNELS])
    flags: array = field(default_factory=lambda: array("B", bytes(SLOTS_PER_MINUTE)))

    def put(self, slot: int, s: CtgSample) -> None:
        for arr, name in zip(self.channels, _CHANNELS, strict=True):
            arr[slot] = _q(getattr(s, name))
        self.flags[slot] = FLAG_PRESENT | (FLAG_MOVEMENT if s.movement else 0) | (FLAG_MARK if s.mark else 0)

    def count(self) -> int:
        return sum(1 for f in self.flags if f & FLAG_PRESENT)

    def samples(self, start_s: float = -math.inf, end_s: float = math.inf) -> list[CtgSample]:
        out = []
        base_s = self.minute_ms / 1000.0
        for slot, f in enumerate(self.flags):
            if not f & FLAG_PRESENT:
                continue
            t_s = base_s + slot / SAMPLE_HZ
            if not start_s <= t_s < end_s:
                continue
            v = [None if a[slot] == NONE_U16 else a[slot] / QUANTUM for a in self.channels]
            out.append(CtgSample(t_s, v[0], v[1], v[2], v[3], bool(f & FLAG_MOVEMENT), bool(f & FLAG_MARK)))
        return out

    def encode(self) -> bytes:
        raw = bytearray()
        for arr in self.channels:
            a = array("H", arr)
            if sys.byteorder != "little":
                a.byteswap()
            raw += a.tobytes()
        raw += self.flags.tobytes()
        return bytes((CODEC_VERSION,)) + zlib.compress(bytes(raw), ZLIB_LEVEL)

    @classmethod
    def decode(cls, minute_ms: int, blob: bytes) -> MinuteBlock:
        if not blob or blob[0] != CODEC_VERSION:
            raise ArchiveError(f"minute {minute_ms}: unknown codec version {blob[:1]!r}")
        try:
            raw = zlib.decompress(blob[1:])
        except zlib.error as exc:
            raise ArchiveError(f"minute {minute_ms}: corrupt blob ({exc})") from None
        n16 = SLOTS_PER_MINUTE * 2
        if len(raw) != n16 * len(_CHANNELS) + SLOTS_PER_MINUTE:
            raise ArchiveError(f"minute {minute_ms}: blob of {len(raw)} bytes has the wrong size")
        chans = []
        for i in range(len(_CHANNELS)):
            a = array("H")
            a.frombytes(raw[i * n16:(i + 1) * n16])
            if sys.byteorder != "little":
                a.byteswap()
            chans.append(a)
        return cls(minute_ms, chans, array("B", raw[n16 * len(_CHANNELS):]))
