"""The worker's commit-then-ack logic, without a broker (a fake client records what is sent)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from central_hub.config import WorkerConfig
from central_hub.errors import StoreUnavailable
from central_hub.handler import Inbound
from central_hub.worker import HubWorker, _Item
from provisioning.site import Site
from tests.central_hub.helpers import NOW_MS, FakeDevice


class FakeClient:
    def __init__(self) -> None:
        self.acked: list[int] = []
        self.published: list[str] = []

    def ack(self, mid: int, qos: int) -> int:
        self.acked.append(mid)
        return 0

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> Any:
        self.published.append(topic)
        return type("Info", (), {"rc": 0})()


@pytest.fixture
def worker(site: Site, enroll_device, tmp_path: Path) -> Iterator[HubWorker]:
    enroll_device("sim-001")
    w = HubWorker(WorkerConfig.from_site(site.path, f"sqlite:///{tmp_path / 'hub.db'}", tmp_path / "state"))
    w._client = FakeClient()  # type: ignore[assignment]
    yield w
    w.store.close()


def items(site: Site, n: int, generation: int = 0) -> list[_Item]:
    dev = FakeDevice(site.device("sim-001"))
    return [_Item(Inbound(*dev.seal(dev.records(i * 10 + 1, 10)), False, NOW_MS), 100 + i, 1, generation)
            for i in range(n)]


def test_acks_follow_the_commit_and_acks_go_out(worker: HubWorker, site: Site) -> None:
    worker._commit_and_ack(items(site, 3))
    client: FakeClient = worker._client  # type: ignore[assignment]
    assert client.acked == [100, 101, 102]
    assert client.published == ["mch/v1/sim-001/ack", "mch/v1/sim-001/cmd"]  # ack + rebirth (no birth yet)
    assert worker.store.record_count() == 30


def test_store_outage_holds_the_acks_until_it_commits(worker: HubWorker, site: Site,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    real = worker.ingestor.process
    failures = iter([True, True])

    def flaky(batch: Any) -> Any:
        if next(failures, False):
            assert worker._client.acked == []  # type: ignore[attr-defined]
            raise StoreUnavailable("database is locked")
        return real(batch)

    monkeypatch.setattr(worker.ingestor, "process", flaky)
    worker._commit_and_ack(items(site, 2))
    assert worker._client.acked == [100, 101]  # type: ignore[attr-defined]
    assert worker.stats.get("store_retries") == 2


def test_no_puback_for_a_message_from_an_earlier_connection(worker: HubWorker, site: Site) -> None:
    worker._generation = 2
    batch = items(site, 2, generation=1)
    worker._commit_and_ack(batch)
    assert worker._client.acked == []  # type: ignore[attr-defined]
    assert worker.stats.get("acks_skipped_reconnected") == 2
    assert worker.store.record_count() == 20  # stored; the broker's redelivery will be re-acked


def test_stopping_during_an_outage_leaves_the_batch_unacked(worker: HubWorker, site: Site,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def down(batch: Any) -> Any:
        worker._stopping.set()
        raise StoreUnavailable("gone")

    monkeypatch.setattr(worker.ingestor, "process", down)
    worker._commit_and_ack(items(site, 1))
    assert worker._client.acked == []  # type: ignore[attr-defined]
