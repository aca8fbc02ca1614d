"""Handler + store throughput without the broker: ``python -m central_hub.bench [--db URL]``.

Seals `messages` envelopes of `per_message` sim/1 records for a few devices (outside the
timing), then times Ingestor.process over batches as the worker would run them: open, verify,
check freshness, validate, encrypt at rest, insert idempotently, commit, and seal the acks.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from central_hub.datakey import DataCipher
from central_hub.directory import Directory
from central_hub.downlink import DownlinkCounters, DownlinkSealer
from central_hub.handler import Handler, Inbound
from central_hub.ingest import Ingestor
from central_hub.store import open_store
from mch_link import envelope
from mch_link.envelope import Record
from mch_link.keys import LinkKeys
from mch_link.registry import DeviceKind, DeviceStatus, RegistryEntry
from mch_link.topics import Kind, topic


def run(db_url: str, devices: int = 8, messages: int = 400, per_message: int = 100,
        batch_messages: int = 20) -> dict[str, float]:
    entries = {f"sim-{i:03d}": RegistryEntry(f"sim-{i:03d}", DeviceKind.SIM, DeviceStatus.ACTIVE, "01",
                                             datetime(2030, 1, 1, tzinfo=UTC), LinkKeys.generate(f"sim-{i:03d}"))
               for i in range(devices)}
    now_ms = int(time.time() * 1000)
    inbound = []
    for m in range(messages):
        e = list(entries.values())[m % devices]
        first = (m // devices) * per_message + 1
        records = [Record(first + j, {"seq": first + j, "fhr_bpm": [140, 141, 139, 140], "toco": [10, 11, 12, 10]},
                          now_ms) for j in range(per_message)]
        where = topic(e.device_id, Kind.CTG)
        inbound.append(Inbound(where, envelope.seal(e.keys.uplink, e.device_id, where, m // devices, "sim/1",
                                                   records, now_ms), False, now_ms))
    store = open_store(db_url)
    directory = Directory.from_entries(entries)
    ingestor = Ingestor(store, Handler(directory, DataCipher.generate()),
                        DownlinkSealer(directory, DownlinkCounters(store)))
    start = time.perf_counter()
    for i in range(0, messages, batch_messages):
        outcomes = ingestor.process(inbound[i:i + batch_messages])
        ingestor.downlinks(outcomes)
    elapsed = time.perf_counter() - start
    stored = store.record_count()
    store.close()
    return {"records": stored, "seconds": round(elapsed, 3), "records_per_s": round(stored / elapsed),
            "messages_per_s": round(messages / elapsed)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--db", help="database URL (default: a fresh SQLite file in a temp dir)")
    p.add_argument("--messages", type=int, default=400)
    p.add_argument("--per-message", type=int, default=100)
    p.add_argument("--batch", type=int, default=20, help="messages per commit")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        print(url.split("?")[0], run(url, messages=args.messages, per_message=args.per_message,
                                     batch_messages=args.batch))


if __name__ == "__main__":
    main()
