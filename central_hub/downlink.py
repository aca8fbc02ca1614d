"""Hub -> device messages (ack/1, cmd/1), sealed with the device's downlink key.

The downlink counter is per device and reserved in blocks in the store before use (the same
rule as the device outbox): a crash skips the rest of a block, never reuses a nonce, and
several hub workers sharing one database get disjoint blocks. Each sealer also draws a random
epoch that goes into every nonce (mch_link.cose.encode_partial_iv), so a recreated database or
two workers on separate databases still never repeat a nonce under a device's downlink key.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from central_hub.directory import Directory
from central_hub.errors import HubError
from central_hub.store.base import Store
from mch_link import cose, envelope
from mch_link.envelope import Record
from mch_link.topics import Kind, topic

DOWNLINK_BLOCK = 1024
ACK_SCHEMA = "ack/1"
CMD_SCHEMA = "cmd/1"
CHUNK_SCHEMA = "fw-chunk/1"
MAX_ACK_IDS = 10_000  # ack/1 maxItems per list


class DownlinkError(HubError):
    """A downlink message could not be sealed (device unknown, no counter reserved)."""


@dataclass(frozen=True)
class Downlink:
    topic: str
    payload: bytes


class DownlinkCounters:
    """Per-device counters handed out from blocks reserved durably in the store."""

    def __init__(self, store: Store, block: int = DOWNLINK_BLOCK) -> None:
        self._store = store
        self._block = block
        self._lock = threading.Lock()
        self._ranges: dict[str, tuple[int, int]] = {}  # device -> (next, end exclusive)

    def next(self, device_id: str) -> int:
        with self._lock:
            nxt, end = self._ranges.get(device_id, (0, 0))
            if nxt >= end:
                nxt = self._store.reserve_downlink(device_id, self._block)
                end = nxt + self._block
            self._ranges[device_id] = (nxt + 1, end)
            return nxt


class DownlinkSealer:
    def __init__(self, directory: Directory, counters: DownlinkCounters,
                 clock: Callable[[], float] = time.time) -> None:
        self._directory = directory
        self._counters = counters
        self._clock = clock
        # per sealer (store process): a hub database recreated, or two workers not sharing one, hand out
        # the same counters again; the random epoch in every nonce keeps each nonce new all the same
        self.epoch = os.urandom(cose.EPOCH_LEN)

    def acks(self, device_id: str, ok: Sequence[int], held: Sequence[int], floor: int | None = None) -> list[Downlink]:
        """One or more ack/1 messages naming every id in `ok` and `held`; `floor` (the highest record id
        the hub holds for the device) tells a device that handed out old ids again to go above it."""
        out = []
        ok, held = sorted(set(ok)), sorted(set(held))
        for start in range(0, max(len(ok), len(held)), MAX_ACK_IDS):
            body: dict[str, Any] = {"ok": ok[start:start + MAX_ACK_IDS], "held": held[start:start + MAX_ACK_IDS]}
            if floor is not None:
                body["floor"] = floor
            out.append(self._seal(device_id, Kind.ACK, ACK_SCHEMA, body))
        return out

    def rebirths(self, device_id: str) -> list[Downlink]:
        return [self._seal(device_id, Kind.CMD, CMD_SCHEMA, {"command": "rebirth"})]

    def command(self, device_id: str, body: dict[str, Any]) -> Downlink:
        """A cmd/1 message (central_hub.commands)."""
        return self._seal(device_id, Kind.CMD, CMD_SCHEMA, body)

    def firmware_chunk(self, device_id: str, body: dict[str, Any]) -> Downlink:
        """A fw-chunk/1 piece of an offered image, on the cmd topic (central_hub.firmware_channel)."""
        return self._seal(device_id, Kind.CMD, CHUNK_SCHEMA, body)

    def _seal(self, device_id: str, kind: Kind, schema: str, body: dict[str, Any]) -> Downlink:
        entry = self._directory.get(device_id)
        if entry is None:
            raise DownlinkError(f"cannot seal for {device_id!r}: not in the registry")
        counter = self._counters.next(device_id)
        where = topic(device_id, kind)
        now_ms = int(self._clock() * 1000)
        payload = envelope.seal(entry.keys.downlink, device_id, where, counter, schema,
                                [Record(counter, body, now_ms)], now_ms, self.epoch)
        return Downlink(where, payload)
