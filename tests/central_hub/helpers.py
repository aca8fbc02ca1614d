"""Building blocks for hub tests: registry entries, sealed envelopes, a handler over a store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from central_hub.datakey import DataCipher
from central_hub.directory import Directory
from central_hub.downlink import DownlinkCounters, DownlinkSealer
from central_hub.handler import Handler, Inbound
from central_hub.ingest import Ingestor
from central_hub.store import Store
from mch_link import envelope
from mch_link.envelope import Record
from mch_link.keys import LinkKeys
from mch_link.registry import DeviceKind, DeviceStatus, RegistryEntry
from mch_link.topics import Kind, topic

NOW_MS = 1_790_000_000_000
NOT_AFTER = datetime(2027, 11, 25, tzinfo=UTC)


def entry(device_id: str, status: DeviceStatus = DeviceStatus.ACTIVE, keys: LinkKeys | None = None) -> RegistryEntry:
    return RegistryEntry(device_id, DeviceKind.SIM, status, "0a1b", NOT_AFTER, keys or LinkKeys.generate(device_id))


def sim_body(seq: int, note: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"seq": seq, "fhr_bpm": [140, 141, 139, 140], "toco": [10, 12, 11, 10]}
    if note is not None:
        body["note"] = note
    return body


@dataclass
class FakeDevice:
    """Seals like a device: fresh counter per transmission, records carry outbox ids."""

    entry: RegistryEntry
    counter: int = 0
    bdseq: int = 0
    seq: int = 0
    sent: list[bytes] = field(default_factory=list)
    epoch: bytes = b""  # the boot epoch sealed into every Partial IV (empty: a sender without one)

    @property
    def device_id(self) -> str:
        return self.entry.device_id

    def seal(self, records: list[Record], kind: Kind = Kind.RECORDS, schema: str = "sim/1",
             counter: int | None = None, as_device: str | None = None, on_topic: str | None = None,
             key: Any = None) -> tuple[str, bytes]:
        where = on_topic or topic(self.device_id, kind)
        if counter is None:
            counter = self.counter
            self.counter += 1
        payload = envelope.seal(key or self.entry.keys.uplink, as_device or self.device_id, where, counter, schema,
                                records, NOW_MS, self.epoch)
        self.sent.append(payload)
        return where, payload

    def records(self, first_id: int, n: int) -> list[Record]:
        return [Record(i, sim_body(i), NOW_MS + i) for i in range(first_id, first_id + n)]

    def state(self, event: str, **extra: Any) -> tuple[str, bytes]:
        body: dict[str, Any] = {"event": event, "bdseq": self.bdseq, "seq": self.seq % 256, **extra}
        if event != "death":
            self.seq += 1
        return self.seal([Record(0, body, NOW_MS)], Kind.STATE, "state/1")


def inbound(where: str, payload: bytes, dup: bool = False, at_ms: int = NOW_MS) -> Inbound:
    return Inbound(where, payload, dup, at_ms)


class Rig:
    """A handler + ingestor over a real store, with a few registered devices."""

    def __init__(self, store: Store, entries: list[RegistryEntry]) -> None:
        self.store = store
        self.registry = {e.device_id: e for e in entries}
        self.directory = Directory.from_entries(self.registry)
        self.cipher = DataCipher.generate()
        self.handler = Handler(self.directory, self.cipher)
        self.ingestor = Ingestor(store, self.handler, DownlinkSealer(self.directory, DownlinkCounters(store, 4)))

    def one(self, where: str, payload: bytes, dup: bool = False, at_ms: int = NOW_MS) -> Any:
        return self.ingestor.process([inbound(where, payload, dup, at_ms)])[0]

    def reasons(self) -> list[str]:
        return [q.reason for q in self.store.quarantine_rows(limit=1000)]
