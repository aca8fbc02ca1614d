"""The per-device replay window: highest counter seen plus a bitmap of the last WINDOW_SIZE.

Like the IPsec/DTLS anti-replay window (RFC 4303 §3.4.3): bit ``d`` of ``bits`` set means
counter ``high - d`` has been seen. A counter above ``high`` is fresh; one within the window is
fresh unless its bit is set; one below the window is stale (it cannot be told apart from a replay).
A window belongs to one boot epoch of the sender (mch_link.cose.encode_partial_iv): the handler
starts a new window when an authentic envelope brings a new epoch, and refuses epochs it retired.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

WINDOW_SIZE = 1024
_MASK = (1 << WINDOW_SIZE) - 1
BITMAP_BYTES = WINDOW_SIZE // 8
NO_COUNTER = -1  # `high` of a device never heard from


class Verdict(StrEnum):
    FRESH = "fresh"
    SEEN = "replay"  # the quarantine reason for a counter already used
    STALE = "stale-counter"  # below the window


@dataclass(frozen=True)
class ReplayWindow:
    high: int = NO_COUNTER
    bits: int = 0
    epoch: bytes = b""  # the sender's boot epoch this window is for (counters are fresh per epoch)

    def __post_init__(self) -> None:
        if self.high < NO_COUNTER or not 0 <= self.bits <= _MASK:
            raise ValueError(f"bad replay window (high={self.high})")

    def check(self, counter: int) -> Verdict:
        if counter > self.high:
            return Verdict.FRESH
        distance = self.high - counter
        if distance >= WINDOW_SIZE:
            return Verdict.STALE
        return Verdict.SEEN if self.bits >> distance & 1 else Verdict.FRESH

    def accept(self, counter: int) -> ReplayWindow:
        """The window after `counter` was used (call only on a FRESH counter)."""
        if counter > self.high:
            shift = counter - self.high
            bits = (self.bits << shift | 1) & _MASK if shift < WINDOW_SIZE else 1
            return ReplayWindow(counter, bits, self.epoch)
        return ReplayWindow(self.high, self.bits | 1 << (self.high - counter), self.epoch)

    def to_bytes(self) -> bytes:
        return self.bits.to_bytes(BITMAP_BYTES, "big")

    @classmethod
    def from_row(cls, high: int, bitmap: bytes | None, epoch_hex: str | None = None) -> ReplayWindow:
        return cls(high, int.from_bytes(bitmap or b"", "big"), bytes.fromhex(epoch_hex or ""))
