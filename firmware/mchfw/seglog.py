"""Segment log files of the flash outbox: the entry format, its power-loss-safe commit
marker, and reading committed entries back (outbox.py keeps the policy).

Entry on flash: MAGIC | length (2, BE) | CRC32 of payload (4) | payload | COMMIT. The commit
byte is written (and synced) only after the whole entry is on flash; a reader stops at the
first entry that is short, has a bad CRC or no commit marker.
"""

import binascii
import struct

from mchfw import cbor

MAGIC = 0xA5
COMMIT = 0x5A
HDR = ">BHI"
HDR_LEN = 7
ENTRY_OVERHEAD = HDR_LEN + 1


def encode_entry(payload: bytes) -> bytes:
    return struct.pack(HDR, MAGIC, len(payload), binascii.crc32(payload) & 0xFFFFFFFF) + payload


def scan(data: bytes) -> list:
    """[(offset, payload)] of the committed entries, stopping at the first torn one."""
    out = []
    pos = 0
    n = len(data)
    while pos + ENTRY_OVERHEAD <= n:
        magic, length, crc = struct.unpack(HDR, data[pos:pos + HDR_LEN])
        end = pos + HDR_LEN + length
        if magic != MAGIC or end + 1 > n or data[end] != COMMIT:
            break
        payload = data[pos + HDR_LEN:end]
        if binascii.crc32(payload) & 0xFFFFFFFF != crc:
            break
        out.append((pos, payload))
        pos = end + 1
    return out


class Segment:
    """One log file; in RAM only its id range, count and size (the index stays on flash)."""

    def __init__(self, number: int, path: str) -> None:
        self.number, self.path = number, path
        self.first_id = 0
        self.last_id = 0
        self.count = 0
        self.size = 0
        self.sealed = True  # no more appends (recovered from flash, or rotated)

    def note(self, msg_id: int) -> None:
        if not self.count:
            self.first_id = msg_id
        self.last_id = msg_id
        self.count += 1

    def holds(self, msg_id: int) -> bool:
        return self.count > 0 and self.first_id <= msg_id <= self.last_id

    def entries(self):
        """Yield (msg_id, payload) of committed entries, reading the file entry by entry."""
        with open(self.path, "rb") as f:
            while True:
                hdr = f.read(HDR_LEN)
                if len(hdr) < HDR_LEN:
                    return
                magic, length, crc = struct.unpack(HDR, hdr)
                if magic != MAGIC:
                    return
                payload = f.read(length)
                mark = f.read(1)
                if len(payload) < length or mark != bytes([COMMIT]):
                    return
                if binascii.crc32(payload) & 0xFFFFFFFF != crc:
                    return
                try:
                    msg_id = cbor.loads(payload)[0]  # type: ignore[index]
                except (cbor.CBORError, TypeError, IndexError, KeyError):
                    return
                yield msg_id, payload
