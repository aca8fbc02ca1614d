"""A small power-loss-safe key/value record: two alternating files, each sequence + CRC32.

A write goes to the older of the two files; a torn write leaves the other intact, and a reader
takes the valid file with the higher sequence number. Works on FAT and LittleFS alike (no
reliance on atomic rename).
"""

import binascii
import json
import struct

from mchfw import fsutil

HDR = ">II"  # sequence, crc32(payload)
HDR_LEN = 8


class Store:
    def __init__(self, path: str) -> None:
        self.paths = (path + ".a", path + ".b")
        self.seq = 0
        self.slot = 0
        self.data = self._load()

    def _read(self, path: str):
        try:
            raw = fsutil.read_bytes(path)
        except OSError:
            return None
        if len(raw) < HDR_LEN:
            return None
        seq, crc = struct.unpack(HDR, raw[:HDR_LEN])
        payload = raw[HDR_LEN:]
        if binascii.crc32(payload) & 0xFFFFFFFF != crc:
            return None
        try:
            data = json.loads(payload)
        except ValueError:
            return None
        return (seq, data) if isinstance(data, dict) else None

    def _load(self) -> dict:
        best = None
        for i, p in enumerate(self.paths):
            got = self._read(p)
            if got is not None and (best is None or got[0] > best[0]):
                best = (got[0], got[1], i)
        if best is None:
            return {}
        self.seq, self.slot = best[0], best[2]
        return best[1]

    def save(self) -> None:
        payload = json.dumps(self.data).encode()
        self.seq += 1
        self.slot ^= 1
        with open(self.paths[self.slot], "wb") as f:
            f.write(struct.pack(HDR, self.seq, binascii.crc32(payload) & 0xFFFFFFFF))
            f.write(payload)
            fsutil.fsync(f)
