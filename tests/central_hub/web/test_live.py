"""The live fleet read model: a change is pushed once, going silent is noticed without a message."""

from __future__ import annotations

import asyncio

from central_hub.fleet import Presence
from central_hub.web.live import LiveFleet
from central_hub.web.services import Dashboard
from tests.central_hub.helpers import NOW_MS
from tests.central_hub.web.conftest import Feeder


class Clock:
    t = NOW_MS / 1000

    def __call__(self) -> float:
        return self.t


def test_changes_are_pushed_once_and_expiry_without_a_message(dashboard: Dashboard, feeder: Feeder) -> None:
    clock = Clock()
    live = LiveFleet(dashboard.store, dashboard.directory, "site", clock)
    assert {v.device_id: v.presence for v in live.views()} == {
        "kiosk-001": Presence.NEVER_SEEN, "kiosk-002": Presence.NEVER_SEEN, "station-001": Presence.NEVER_SEEN}

    async def scenario() -> list[str]:
        sub = live.subscribe(["kiosk-001"])
        feeder.state("kiosk-001", "birth", NOW_MS, heartbeat_s=10)
        feeder.state("kiosk-002", "birth", NOW_MS, heartbeat_s=10)  # not this subscriber's
        assert sorted(v.device_id for v in live.refresh()) == ["kiosk-001", "kiosk-002"]
        assert live.refresh() == []  # nothing new to show
        clock.t += 31  # three heartbeats of 10 s missed
        assert {v.device_id: v.presence for v in live.refresh()} == {
            "kiosk-001": Presence.SILENT, "kiosk-002": Presence.SILENT}
        await asyncio.sleep(0)
        got = []
        while not sub.queue.empty():
            item = sub.queue.get_nowait()
            got.append("end" if item is None else f"{item.device_id}:{item.presence.value}")
        live.unsubscribe(sub)
        return got

    assert asyncio.run(scenario()) == ["kiosk-001:online", "end", "kiosk-001:silent", "end"]


def test_a_slow_subscriber_is_told_to_reload(dashboard: Dashboard) -> None:
    live = LiveFleet(dashboard.store, dashboard.directory, "site")

    async def scenario() -> bool:
        sub = live.subscribe(None)
        for _ in range(sub.queue.maxsize + 1):
            sub.offer(None)
        return sub.overflowed

    assert asyncio.run(scenario())
