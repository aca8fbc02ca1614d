"""Beyond one hub machine: workers on MQTT shared subscriptions against one PostgreSQL; one is
SIGKILLed mid-stream and nothing is lost or duplicated, in the records or in the feed outbox."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

from central_hub.feed import outbox
from central_hub.store import open_store
from mch_link.device import DeviceConfig, DeviceLink
from mch_link.keys import KEYS_FILE, LinkKeys
from mch_link.outbox import Outbox
from mch_link.topics import Kind
from provisioning.site import Site
from tests.central_hub.feed import records as fed
from tests.central_hub.helpers import sim_body
from tests.support.hub import HubFactory, count_records

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DEVICES, RECORDS, PREGNANCIES = 3, 400, 20
WAIT_S = 90.0


def test_a_worker_sigkilled_mid_stream_loses_and_duplicates_nothing(
        site: Site, enroll_device, hub_factory: HubFactory, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    site.issue_hub_identity("hub-1")
    site.issue_hub_identity("hub-2")
    bundles = [enroll_device(f"kiosk-{i:03d}") for i in range(DEVICES)]
    broker = request.getfixturevalue("broker")  # after the hub identities exist (ACL)
    db_url = request.getfixturevalue("hub_pg_url")
    hubs = {h: hub_factory(site.path, db_url, hub_id=h, share_group="hub", broker=broker) for h in ("hub-1", "hub-2")}
    links = []
    for i, b in enumerate(bundles):
        config = DeviceConfig(f"kiosk-{i:03d}", "kiosk", broker.host, broker.port, b / "ca.pem",
                              b / "device.crt.pem", b / "device.key.pem")
        link = DeviceLink(config, LinkKeys.read(b / KEYS_FILE), Outbox(tmp_path / f"outbox-{i}.db"),
                          ack_timeout_s=3.0, heartbeat_s=1.0)
        link.start()
        links.append(link)

    def stream(link: DeviceLink, seed: int) -> None:
        rng = random.Random(seed)
        for k in range(RECORDS // 20):  # 20 records every 50 ms, for about a second
            link.submit_many(Kind.RECORDS, "sim/1", [sim_body(k * 20 + j) for j in range(20)])
            time.sleep(0.05)
        link.submit_many(Kind.RECORDS, "antenatal-booking/1",
                         [fed.booking(rng, seed * 1000 + n) for n in range(PREGNANCIES)])

    try:
        streams = [threading.Thread(target=stream, args=(link, i)) for i, link in enumerate(links)]
        for t in streams:
            t.start()
        deadline = time.monotonic() + WAIT_S
        while count_records(db_url) < DEVICES * RECORDS // 3:
            assert time.monotonic() < deadline, "nothing is being stored"
            time.sleep(0.02)
        hubs["hub-1"].kill()  # SIGKILL mid-stream: its open batch is neither committed nor acknowledged
        assert count_records(db_url) < DEVICES * (RECORDS + PREGNANCIES) and any(t.is_alive() for t in streams)
        for t in streams:
            t.join(WAIT_S)
        time.sleep(2.0)
        hubs["hub-1"].restart()  # its persistent session hands back what was in flight to it
        for link in links:
            assert link.wait_drained(WAIT_S), "a device still holds unacknowledged records"
    finally:
        for link in links:
            link.stop()
    total = DEVICES * (RECORDS + PREGNANCIES)
    store = open_store(db_url)
    try:
        assert store.record_count() == total
        for i in range(DEVICES):
            assert store.record_ids(f"kiosk-{i:03d}") == list(range(1, RECORDS + PREGNANCIES + 1))
        assert store.quarantine_counts() == {}
        queued = outbox.head(store, 1000)
        assert len(queued) == DEVICES * PREGNANCIES  # one outbox row per fed record, none twice
        assert len({(r.device_id, r.msg_id) for r in queued}) == len(queued)
    finally:
        store.close()
