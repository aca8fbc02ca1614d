"""The request lane: bounded overall and per device, so one device flooding requests cannot
starve the others; a responder bug does not lose the lane."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from central_hub.config import WorkerConfig
from central_hub.services.lane import PER_DEVICE_MAX, RpcLane
from central_hub.services.responder import Inbound, Outbound
from central_hub.stats import IngestStats
from provisioning.site import Site
from tests.support.hub import hub_site


class BlockingResponder:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.answered: list[str] = []

    def answer(self, msg: Inbound) -> Outbound | None:
        self.release.wait(10)
        if msg.payload == b"bug":
            raise RuntimeError("a bug in one request")
        self.answered.append(msg.topic)
        return Outbound(msg.topic.replace("/req", "/rsp"), b"answer", b"c" * 16)


def _lane(site: Site, tmp_path: Path) -> tuple[RpcLane, BlockingResponder, list[Outbound], IngestStats]:
    config = WorkerConfig.from_site(hub_site(site.path), f"sqlite:///{tmp_path / 'hub.db'}", tmp_path / "state")
    published: list[Outbound] = []
    stats = IngestStats()
    lane = RpcLane(config, published.append, stats)
    responder = BlockingResponder()
    lane.responder = responder  # type: ignore[assignment]
    lane._pool = ThreadPoolExecutor(PER_DEVICE_MAX * 2)
    return lane, responder, published, stats


def test_one_device_cannot_take_the_whole_lane(site: Site, tmp_path: Path) -> None:
    lane, responder, published, stats = _lane(site, tmp_path)
    for _ in range(PER_DEVICE_MAX + 5):
        lane.submit(Inbound("mch/v1/kiosk-666/req", b"x", b"c" * 16, "mch/v1/kiosk-666/rsp"))
    lane.submit(Inbound("mch/v1/kiosk-001/req", b"x", b"c" * 16, "mch/v1/kiosk-001/rsp"))
    assert stats.get("rpc_dropped_device_limit") == 5
    responder.release.set()
    lane.stop()
    assert sorted(responder.answered).count("mch/v1/kiosk-666/req") == PER_DEVICE_MAX
    assert "mch/v1/kiosk-001/req" in responder.answered and len(published) == PER_DEVICE_MAX + 1


def test_a_bug_is_counted_and_frees_its_slot(site: Site, tmp_path: Path) -> None:
    lane, responder, published, stats = _lane(site, tmp_path)
    responder.release.set()
    for i in range(1, PER_DEVICE_MAX * 2 + 1):  # twice the device's limit, one after the other
        lane.submit(Inbound("mch/v1/kiosk-001/req", b"bug", b"c" * 16, "mch/v1/kiosk-001/rsp"))
        deadline = time.monotonic() + 5
        while stats.get("rpc_lane_errors") < i and time.monotonic() < deadline:
            time.sleep(0.005)
    lane.stop()
    assert stats.get("rpc_lane_errors") == PER_DEVICE_MAX * 2  # every slot was given back
    assert stats.get("rpc_dropped_device_limit") == 0 and published == []
