"""The worker's commit-then-ack logic without a broker: the store half in-process, the network
half with a fake MQTT client, and the real store process behind the pipe (killed and restarted)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from central_hub.config import WorkerConfig
from central_hub.diskwatch import CHECK_INTERVAL_S, DISK_FAULTS, DiskWatch, Usage
from central_hub.errors import HubError, StoreUnavailable
from central_hub.handler import Inbound
from central_hub.store import open_store
from central_hub.storeside import StoreSide, _StopOrOrphaned
from central_hub.worker import HubWorker, StoreProcess, _Item
from mch_link import envelope
from provisioning.site import Site
from tests.central_hub.helpers import NOW_MS, FakeDevice
from tests.support.hub import hub_site

WAIT_S = 30.0


class FakeClient:
    def __init__(self) -> None:
        self.acked: list[int] = []
        self.published: list[str] = []
        self.event = threading.Event()

    def ack(self, mid: int, qos: int) -> int:
        self.acked.append(mid)
        self.event.set()
        return 0

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> Any:
        self.published.append(topic)
        return type("Info", (), {"rc": 0})()

    def wait_acked(self, n: int) -> list[int]:
        deadline = time.monotonic() + WAIT_S
        while len(self.acked) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.acked


@pytest.fixture
def config(site: Site, enroll_device, tmp_path: Path) -> WorkerConfig:
    enroll_device("sim-001")
    return WorkerConfig.from_site(hub_site(site.path), f"sqlite:///{tmp_path / 'hub.db'}", tmp_path / "state")


@pytest.fixture
def side(config: WorkerConfig) -> Iterator[StoreSide]:
    s = StoreSide(config, threading.Event())
    yield s
    s.close()


def inbound(site: Site, n: int) -> list[Inbound]:
    dev = FakeDevice(site.device("sim-001"))
    return [Inbound(*dev.seal(dev.records(i * 10 + 1, 10)), False, NOW_MS) for i in range(n)]


def items(site: Site, n: int, generation: int = 0, first_mid: int = 100) -> list[_Item]:
    return [_Item(m.topic, m.payload, m.dup, m.received_at_ms, first_mid + i, 1, generation)
            for i, m in enumerate(inbound(site, n))]


# -- the store half -------------------------------------------------------------------------
def test_a_committed_batch_answers_with_its_acks(side: StoreSide, site: Site) -> None:
    downlinks = side.commit(inbound(site, 3))
    assert downlinks is not None
    assert [d.topic for d in downlinks] == ["mch/v1/sim-001/ack", "mch/v1/sim-001/cmd"]  # ack + rebirth (no birth)
    assert side.store.record_count() == 30


def test_store_outage_is_retried_until_it_commits(side: StoreSide, site: Site,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real = side.ingestor.process
    failures = iter([True, True])

    def flaky(batch: Any) -> Any:
        if next(failures, False):
            raise StoreUnavailable("database is locked")
        return real(batch)

    monkeypatch.setattr(side.ingestor, "process", flaky)
    monkeypatch.setattr("central_hub.storeside.RETRY_MIN_S", 0.01)
    assert side.commit(inbound(site, 2))
    assert side.stats.get("store_retries") == 2
    assert side.store.record_count() == 20


def test_a_full_disk_holds_the_batch_unacknowledged_until_there_is_room(side: StoreSide, site: Site,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    db = side.store._db  # type: ignore[attr-defined]  # SQLite's own cap gives the error a full disk gives
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count={pages}")
    waits: list[float] = []

    def room_after_two(delay: float) -> bool:
        waits.append(delay)
        if len(waits) == 2:
            db.execute("PRAGMA max_page_count=1073741823")
        return False

    monkeypatch.setattr(side.stop, "wait", room_after_two)
    downlinks = side.commit(inbound(site, 30))
    assert downlinks and len(waits) == 2 and side.stats.get("store_retries") == 2
    assert "database or disk is full" in caplog.text
    assert side.store.record_count() == 300 and side.store.quarantine_counts() == {}


def test_stopping_during_an_outage_commits_nothing(side: StoreSide, site: Site,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def down(batch: Any) -> Any:
        side.stop.set()  # type: ignore[attr-defined]
        raise StoreUnavailable("gone")

    monkeypatch.setattr(side.ingestor, "process", down)
    assert side.commit(inbound(site, 1)) is None
    assert side.store.record_count() == 0


def test_a_batch_committed_by_a_store_process_that_died_is_only_re_acked(side: StoreSide, site: Site) -> None:
    batch = inbound(site, 2)
    first = side.commit(batch)
    again = side.commit([Inbound(m.topic, m.payload, True, m.received_at_ms) for m in batch])
    assert first and again and [d.topic for d in again] == ["mch/v1/sim-001/ack"]
    assert side.store.quarantine_counts() == {}
    assert side.stats.get("records_stored") == 20 and side.stats.get("messages_redelivered") == 2


def test_a_store_process_whose_network_half_died_stops_retrying() -> None:
    not_our_parent = os.getpid()
    t0 = time.monotonic()
    assert _StopOrOrphaned(threading.Event(), not_our_parent).wait(10) is True
    assert time.monotonic() - t0 < 1
    assert _StopOrOrphaned(threading.Event(), os.getppid()).wait(0.05) is False


def test_worker_stats_hold_both_halves(side: StoreSide, site: Site) -> None:
    side.commit(inbound(site, 1))
    side.save_stats({"connects": 2, "queue_depth": 0})
    _, row = side.store.worker_stats()["hub"]
    assert row["connects"] == 2 and row["records_stored"] == 10 and row["batches"] == 1


# -- the network half -----------------------------------------------------------------------
@pytest.fixture
def worker(config: WorkerConfig) -> Iterator[HubWorker]:
    w = HubWorker(config)
    w._client = FakeClient()  # type: ignore[assignment]
    yield w
    w._stopping.set()
    if w._store is not None:
        w._store.close(5)


def test_acks_go_out_only_for_the_connection_that_delivered(worker: HubWorker, site: Site) -> None:
    worker._generation = 2
    old, new = items(site, 2, generation=1), items(site, 1, generation=2, first_mid=7)
    worker._in_flight.update({1: old, 2: new})
    worker._on_result(("done", 1, [("mch/v1/sim-001/ack", b"x")]))
    worker._on_result(("done", 2, []))
    client: FakeClient = worker._client  # type: ignore[assignment]
    assert client.acked == [7]
    assert client.published == ["mch/v1/sim-001/ack"]
    assert worker.stats.get("acks_skipped_reconnected") == 2
    assert worker._in_flight == {}


def test_a_skipped_batch_is_not_acked(worker: HubWorker, site: Site) -> None:
    worker._in_flight[1] = items(site, 2)
    worker._on_result(("skipped", 1))
    assert worker._client.acked == []  # type: ignore[attr-defined]
    assert worker.stats.get("batches_skipped") == 1


def test_batches_through_the_store_process_are_committed_then_acked(worker: HubWorker, config: WorkerConfig,
                                                                    site: Site) -> None:
    worker._store = StoreProcess(config, "WARNING")
    worker._results.start()
    batch = items(site, 3)
    worker._dispatch(batch)
    client: FakeClient = worker._client  # type: ignore[assignment]
    assert client.wait_acked(3) == [100, 101, 102]
    store = open_store(config.db_url)
    try:
        assert store.record_count() == 30
    finally:
        store.close()


def test_a_dead_store_process_is_restarted_and_gets_the_batch_again(worker: HubWorker, config: WorkerConfig,
                                                                    site: Site) -> None:
    worker._store = StoreProcess(config, "WARNING")
    first = worker._store.proc
    assert first.pid is not None
    os.kill(first.pid, signal.SIGSTOP)  # the batch waits in the pipe, unanswered ...
    worker._dispatch(items(site, 2))
    first.kill()  # ... when its process dies
    first.join(5)
    worker._results.start()
    client: FakeClient = worker._client  # type: ignore[assignment]
    assert client.wait_acked(2) == [100, 101]
    assert worker._store.proc is not first and worker._store.proc.is_alive()
    assert worker.stats.get("store_restarts") >= 1
    store = open_store(config.db_url)
    try:
        assert store.record_count() == 20
    finally:
        store.close()


def test_a_store_that_cannot_open_stops_the_start_with_a_clear_error(config: WorkerConfig, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    bad = WorkerConfig(config.site_dir, f"sqlite:///{tmp_path / 'a-file' / 'hub.db'}", config.state_dir,
                       config.broker_host, config.broker_port, config.identity)
    with pytest.raises(HubError, match="hub.db"):
        StoreProcess(bad, "WARNING")


def test_a_store_process_that_does_not_answer_in_time_is_not_left_running(config: WorkerConfig,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("central_hub.worker.STORE_START_S", 0.0)  # a spawned interpreter cannot be that fast
    with pytest.raises(HubError, match="did not start within 0 s"):
        StoreProcess(config, "WARNING")
    assert [p for p in multiprocessing.active_children() if p.name == "mch-hub-store"] == []


def test_low_disk_is_a_hub_fault_and_pauses_new_quarantine_rows(config: WorkerConfig, site: Site) -> None:
    free = {"bytes": 100 << 30}
    clock = {"t": 0.0}

    def usage(path: Path) -> Usage:
        return Usage(200 << 30, (200 << 30) - free["bytes"], free["bytes"])

    side = StoreSide(config, threading.Event(), DiskWatch(Path("/hub-disk"), usage, lambda: clock["t"]))
    try:
        garbage = [Inbound("mch/v1/sim-001/rec", b"garbage 1", False, NOW_MS)]
        side.commit(garbage)
        assert [f.source for f in side.store.hub_faults()] == [] and len(side.store.quarantine_rows()) == 1
        free["bytes"] = 300 << 20  # below 512 MiB
        clock["t"] += CHECK_INTERVAL_S
        side.commit([Inbound("mch/v1/sim-001/rec", b"garbage 2", False, NOW_MS), *inbound(site, 1)])
        [fault] = [f for f in side.store.hub_faults() if f.source == DISK_FAULTS]
        assert fault.subject == "/hub-disk" and "300 MiB free" in fault.detail
        assert len(side.store.quarantine_rows()) == 1 and side.store.record_count() == 10  # records still stored
        free["bytes"] = 100 << 30
        clock["t"] += CHECK_INTERVAL_S
        side.commit([Inbound("mch/v1/sim-001/rec", b"garbage 3", False, NOW_MS)])
        assert [f for f in side.store.hub_faults() if f.source == DISK_FAULTS] == []
        assert len(side.store.quarantine_rows()) == 2
    finally:
        side.close()


def test_a_retry_after_an_ambiguous_commit_acknowledges_not_quarantines(side: StoreSide, site: Site,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The COMMIT went through but its answer was lost (StoreUnavailable): the retry of the same batch
    must re-acknowledge every record, not quarantine the batch as a replay of itself."""
    real = side.ingestor.process
    calls: list[int] = []

    def commit_then_lose_the_answer(batch: Any) -> Any:
        calls.append(len(batch))
        out = real(batch)
        if len(calls) == 1:
            raise StoreUnavailable("server closed the connection unexpectedly")
        return out

    monkeypatch.setattr(side.ingestor, "process", commit_then_lose_the_answer)
    monkeypatch.setattr("central_hub.storeside.RETRY_MIN_S", 0.01)
    downlinks = side.commit(inbound(site, 3))
    assert downlinks and len(calls) == 2
    assert side.store.record_count() == 30 and side.store.quarantine_rows() == []
    dev = site.device("sim-001")
    acked = {i for d in downlinks for r in envelope.open_envelope(d.payload, dev.keys.downlink, d.topic).records
             for i in r.body["ok"]}
    assert acked == set(range(1, 31))
