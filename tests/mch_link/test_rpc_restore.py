"""Issue 10 leftover: a device whose outbox was restored from a backup hands out request
counters the hub has already seen; they come under a new boot epoch, so the hub must answer
them at once, not refuse them as replays until the counter passes the old mark. A true replay
(same epoch, same counter) is still refused. Real broker and hub."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from mch_link import rpc
from mch_link.device import DeviceLink
from mch_link.keys import KEYS_FILE, LinkKeys
from mch_link.outbox import COUNTER_BLOCK
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.site import Site
from tests.support.hub import HubFactory

pytestmark = pytest.mark.integration

DEVICE = "kiosk-071"
NOBODY = {"outpatient_no": "MZ99999999"}


def _link(bundle: Path, outbox: Path, broker: BrokerProcess) -> tuple[DeviceLink, rpc.RpcClient]:
    link = DeviceLink.from_bundle(bundle, outbox, broker=(broker.host, broker.port))
    client = rpc.RpcClient(link, DEVICE, LinkKeys.read(bundle / KEYS_FILE))
    link.start()
    assert link.wait_connected(20)
    return link, client


def _backup(src: Path, dst: Path) -> None:
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)


def test_requests_from_a_restored_outbox_are_answered(site: Site, enroll_device, broker: BrokerProcess,  # noqa: ANN001
                                                      hub_factory: HubFactory, tmp_path: Path) -> None:
    bundle = enroll_device(DEVICE, "kiosk")
    hub_factory(site.path, broker=broker)
    live, saved = tmp_path / "outbox.db", tmp_path / "outbox-backup.db"
    link, client = _link(bundle, live, broker)
    try:
        assert client.call("patient.find", NOBODY, timeout_s=10) is None
        _backup(live, saved)  # its counters resume at the next reserved block
        while link.next_counter() < COUNTER_BLOCK - 1:  # the live outbox goes on into that block ...
            pass
        for _ in range(100):  # ... and these requests use its first counters
            assert client.call("patient.find", NOBODY, timeout_s=10) is None
    finally:
        link.stop()
    for stale in tmp_path.glob("outbox.db*"):
        stale.unlink()
    saved.rename(live)  # the disk is replaced, the backup restored: counters from COUNTER_BLOCK again
    link, client = _link(bundle, live, broker)
    try:
        assert client.call("patient.find", NOBODY, timeout_s=10) is None  # refused as a replay before the fix
    finally:
        link.stop()


def test_a_replayed_request_of_the_same_epoch_is_still_refused(site: Site, enroll_device,  # noqa: ANN001
                                                               broker: BrokerProcess, hub_factory: HubFactory,
                                                               tmp_path: Path) -> None:
    bundle = enroll_device(DEVICE, "kiosk")
    hub = hub_factory(site.path, broker=broker)
    link, client = _link(bundle, tmp_path / "outbox.db", broker)
    sent: list[tuple[bytes, bytes]] = []
    publish = link.publish_request

    def spy(payload: bytes, correlation: bytes) -> bool:
        sent.append((payload, correlation))
        return publish(payload, correlation)

    link.publish_request = spy  # type: ignore[method-assign]
    try:
        assert client.call("patient.find", NOBODY, timeout_s=10) is None
        answered = hub.log_text().count("patient.find answered")
        publish(*sent[0])  # the same sealed request again (same epoch, same counter)
        deadline = time.monotonic() + 10
        while "already used (replay)" not in hub.log_text():
            assert time.monotonic() < deadline, "the replay was not refused"
            time.sleep(0.1)
        assert hub.log_text().count("patient.find answered") == answered
    finally:
        link.stop()
