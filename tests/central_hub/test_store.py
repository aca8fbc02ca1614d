"""The store on both back ends (SQLite and PostgreSQL, the same tests)."""

from __future__ import annotations

import threading

import pytest

from central_hub.errors import HubConfigError, StoreError, StoreUnavailable
from central_hub.outcome import Reason, Status
from central_hub.store import Store, open_store
from mch_link import envelope
from tests.central_hub.helpers import FakeDevice, Rig, entry, inbound


def test_open_is_idempotent(hub_db_url: str) -> None:
    for _ in range(2):
        s = open_store(hub_db_url)
        assert s.record_count() == 0
        s.close()


def test_a_batch_commits_every_message_at_once(store: Store) -> None:
    rig = Rig(store, [entry("sim-001"), entry("sim-002")])
    a, b = FakeDevice(rig.registry["sim-001"]), FakeDevice(rig.registry["sim-002"])
    batch = [inbound(*a.seal(a.records(1, 50))), inbound(*b.seal(b.records(1, 50))),
             inbound(*a.seal(a.records(51, 50))), inbound("mch/v1/sim-002/rec", b"junk")]
    outs = rig.ingestor.process(batch)
    assert [o.status for o in outs] == [Status.STORED, Status.STORED, Status.STORED, Status.QUARANTINED]
    assert (store.record_count("sim-001"), store.record_count("sim-002")) == (100, 50)
    assert {r.device_id: r.records_stored for r in store.fleet_rows()} == {"sim-001": 100, "sim-002": 50}


def test_duplicates_within_one_batch_are_stored_once(store: Store) -> None:
    rig = Rig(store, [entry("sim-001")])
    dev = FakeDevice(rig.registry["sim-001"])
    first, resend = dev.seal(dev.records(1, 3)), dev.seal(dev.records(1, 3))
    outs = rig.ingestor.process([inbound(*first), inbound(*resend), inbound(*first)])
    assert [o.status for o in outs] == [Status.STORED, Status.DUPLICATE, Status.QUARANTINED]
    assert outs[2].reason == Reason.REPLAY
    assert store.record_count() == 3


def test_a_failed_batch_leaves_nothing_behind(store: Store) -> None:
    rig = Rig(store, [entry("sim-001")])
    dev = FakeDevice(rig.registry["sim-001"])
    where, payload = dev.seal(dev.records(1, 3))
    with pytest.raises(RuntimeError), store.transaction(["sim-001"]) as txn:
        rig.handler.handle(txn, inbound(where, payload))
        raise RuntimeError("crash before commit")
    assert store.record_count() == 0
    assert rig.one(where, payload).status is Status.STORED  # the window was not advanced either


def test_two_workers_share_windows_through_the_store(hub_db_url: str) -> None:
    s1, s2 = open_store(hub_db_url), open_store(hub_db_url)
    try:
        e = entry("sim-001")
        r1, r2 = Rig(s1, [e]), Rig(s2, [e])
        r2.cipher = r1.cipher
        dev = FakeDevice(e)
        msgs = [dev.seal(dev.records(i * 10, 10)) for i in range(40)]
        results: list[list[Status]] = [[], []]

        def work(rig: Rig, slot: int) -> None:
            for where, payload in msgs:
                results[slot].append(rig.one(where, payload).status)

        threads = [threading.Thread(target=work, args=(r, i)) for i, r in enumerate((r1, r2))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        statuses = results[0] + results[1]
        assert statuses.count(Status.STORED) == 40 and statuses.count(Status.QUARANTINED) == 40
        assert s1.record_count() == 400
        assert s1.quarantine_counts() == {Reason.REPLAY: 40}
    finally:
        s1.close()
        s2.close()


def test_downlink_blocks_are_disjoint_and_survive_reopen(hub_db_url: str) -> None:
    s = open_store(hub_db_url)
    first = [s.reserve_downlink("sim-001", 10) for _ in range(3)]
    s.close()
    s = open_store(hub_db_url)
    assert first == [1, 11, 21]
    assert s.reserve_downlink("sim-001", 10) == 31
    assert s.reserve_downlink("sim-002", 5) == 1
    s.close()


def test_acks_are_merged_per_device_and_sealed_with_fresh_counters(store: Store) -> None:
    rig = Rig(store, [entry("sim-001")])
    dev = FakeDevice(rig.registry["sim-001"])
    outs = rig.ingestor.process([inbound(*dev.seal(dev.records(1, 2))),
                                 inbound(*dev.seal([*dev.records(3, 1), *dev.records(1, 1)]))])
    [ack] = [d for d in rig.ingestor.downlinks(outs) if d.topic.endswith("/ack")]
    opened = envelope.open_envelope(ack.payload, dev.entry.keys.downlink, ack.topic)
    assert opened.schema == "ack/1" and opened.records[0].body == {"ok": [1, 2, 3], "held": []}
    counters = [envelope.peek(d.payload).counter for _ in range(6) for d in rig.ingestor.downlinks(outs)]
    assert len(set(counters)) == len(counters)  # never the same nonce twice


def test_huge_ack_is_split_into_schema_sized_messages(store: Store) -> None:
    rig = Rig(store, [entry("sim-001")])
    acks = rig.ingestor.sealer.acks("sim-001", list(range(25_000)), [])
    assert len(acks) == 3


def test_quarantine_listing_and_filter(store: Store) -> None:
    rig = Rig(store, [entry("sim-001")])
    rig.one("mch/v1/sim-001/rec", b"junk")
    rig.one("nowhere", b"junk")
    assert {q.reason for q in store.quarantine_rows()} == {Reason.MALFORMED, Reason.BAD_TOPIC}
    assert [q.reason for q in store.quarantine_rows(reason=Reason.BAD_TOPIC)] == [Reason.BAD_TOPIC]


def test_worker_stats_round_trip(store: Store) -> None:
    store.put_worker_stats("hub-1", 123, {"messages": 5})
    store.put_worker_stats("hub-1", 456, {"messages": 9})
    assert store.worker_stats() == {"hub-1": (456, {"messages": 9})}


def test_nul_and_non_utf8_topics_are_kept(store: Store) -> None:
    rig = Rig(store, [entry("sim-001")])
    out = rig.one("mch/v1/sim\x00-001/rec\udcff", b"x")
    assert out.reason == Reason.BAD_TOPIC
    [row] = store.quarantine_rows()
    assert "\x00" not in row.topic


def test_bad_urls_are_config_errors() -> None:
    with pytest.raises(HubConfigError):
        open_store("mysql://nope")
    with pytest.raises(HubConfigError):
        open_store("sqlite:///")


def test_unreachable_postgres_is_unavailable() -> None:
    with pytest.raises(StoreUnavailable):
        open_store("postgresql://postgres@127.0.0.1:1/none?connect_timeout=2")
    assert issubclass(StoreUnavailable, StoreError)


def test_a_device_not_preloaded_is_locked_and_loaded_on_demand(store: Store) -> None:
    rig = Rig(store, [entry("sim-001")])
    dev = FakeDevice(rig.registry["sim-001"])
    where, payload = dev.seal(dev.records(1, 2))
    rig.one(where, payload)
    with store.transaction(()) as txn:  # as when a device is enrolled while its first batch runs
        out = rig.handler.handle(txn, inbound(where, payload))
        fresh = rig.handler.handle(txn, inbound(*dev.seal(dev.records(3, 1))))
    assert (out.reason, fresh.status) == (Reason.REPLAY, Status.STORED)
    assert store.record_ids("sim-001") == [1, 2, 3]
