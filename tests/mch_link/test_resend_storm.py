"""Scenario 9: a one-hour hub outage at 50 devices (link time 60x faster than real time).

Before the fix every DeviceLink re-published its whole in-flight window every 30 s while the hub
was away: 16 envelopes x 120 timeouts x 50 devices = 96,000 envelopes in the hour for the hub's
persistent session, which is the broker's max_queued_messages (100,000) for it and several times
its memory_limit at a few KiB each. With the backoff (doubling, capped at 15 min, +-20 % jitter)
each device resends its window at most ~14 times in the hour; when the hub is back everything is
stored exactly once. Besides the arithmetic, the broker's own view: no "messages are being
dropped" notice in its log and its resident memory sampled through the outage.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from mch_link.device import DeviceLink
from mch_link.topics import Kind
from mqtt_broker_config.launcher import BrokerProcess
from mqtt_broker_config.render import BrokerSettings
from provisioning.site import Site
from tests.support.hub import HubFactory, wait_for_records

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEVICES = 50
SPEED = 60.0  # link seconds per real second
OUTAGE_LINK_S = 3600.0
WINDOW = 16
RECORDS_PER_TICK = 2  # per device per real second (= per 60 link seconds)


class FastClock:
    """A monotonic clock running SPEED times faster than the real one."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()

    def __call__(self) -> float:
        return self._t0 + (time.monotonic() - self._t0) * SPEED


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for broker pid {pid}")


def _body(i: int) -> dict:
    return {"seq": i, "fhr_bpm": [140, 141, 139, 140], "toco": [10, 11, 12, 13]}


def test_a_one_hour_hub_outage_at_50_devices_stays_within_the_broker_limits_and_loses_nothing(
        site: Site, broker: BrokerProcess, enroll_device, hub_factory: HubFactory, tmp_path: Path) -> None:
    bundles = [enroll_device(f"sim-{300 + i}") for i in range(DEVICES)]
    hub = hub_factory(site.path, broker=broker)
    hub.stop()  # its persistent session stays: the broker queues for it
    clock = FastClock()
    links = [DeviceLink.from_bundle(b, tmp_path / f"outbox-{i}.db", (broker.host, broker.port), window=WINDOW,
                                    batch_max=10, ack_timeout_s=30, heartbeat_s=30, monotonic=clock)
             for i, b in enumerate(bundles)]
    stop = threading.Event()
    submitted = [0] * DEVICES

    def feed() -> None:  # each device keeps making records through the outage
        while not stop.wait(1.0):
            for i, link in enumerate(links):
                link.submit_many(Kind.CTG, "sim/1", [_body(submitted[i] + j) for j in range(RECORDS_PER_TICK)])
                submitted[i] += RECORDS_PER_TICK

    pid = broker.pid
    assert pid is not None
    rss = [_rss_bytes(pid)]

    def sample() -> None:  # the broker's memory through the outage, as the kernel counts it
        while not stop.wait(0.5):
            rss.append(_rss_bytes(pid))

    for link in links:
        link.start()
    feeder = threading.Thread(target=feed, daemon=True)
    sampler = threading.Thread(target=sample, daemon=True)
    feeder.start()
    sampler.start()
    try:
        time.sleep(OUTAGE_LINK_S / SPEED)
        stop.set()
        feeder.join(10)
        sampler.join(10)
        # what the broker itself says: past max_queued_messages/bytes it drops the hub's QoS 1
        # messages and logs this notice (still PUBACKing the publisher)
        assert "Outgoing messages are being dropped" not in broker.log_text()
        limits = BrokerSettings()
        assert len(rss) > 50 and max(rss) < limits.memory_limit_bytes // 4, (max(rss), len(rss))
        sent_in_outage = sum(link.stats.envelopes_sent for link in links)
        resends = [link.stats.resends for link in links]
        assert max(resends) <= 15, resends  # ~120 without the backoff
        assert sent_in_outage <= DEVICES * WINDOW * 16, sent_in_outage
        assert sent_in_outage * 2 < limits.max_queued_messages  # with the heartbeats, far below the hub's queue
        hub.start(timeout_s=120)  # the broker hands it the hour's queue while it subscribes
        total = sum(submitted)
        assert wait_for_records(hub.db_url, total, 180) == total
        for link in links:
            assert link.wait_drained(60), f"{link.config.device_id}: not all acknowledged"
        store = hub.store()
        try:
            assert store.quarantine_rows() == []
            for i in (0, DEVICES // 2, DEVICES - 1):
                assert store.record_ids(f"sim-{300 + i}") == list(range(1, submitted[i] + 1))
        finally:
            store.close()
    finally:
        stop.set()
        for link in links:
            link.stop(timeout=2)
