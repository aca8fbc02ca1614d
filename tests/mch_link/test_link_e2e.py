"""End to end through the real Mosquitto (project config) into the real hub store.

Every test counts what the device committed to its outbox and what the hub stored, and
asserts equality of the record id sets: nothing lost, nothing duplicated.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mch_link.device import DeviceLink
from mch_link.topics import Kind
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.site import Site
from tests.support.hub import HubFactory, wait_for_records

pytestmark = pytest.mark.integration

SCHEMA = "sim/1"


def body(i: int) -> dict:
    return {"seq": i, "fhr_bpm": [140, 141, 139, 140], "toco": [10, 11, 12, 13]}


def _link(bundle: Path, broker: BrokerProcess, outbox: Path, **kw: object) -> DeviceLink:
    return DeviceLink.from_bundle(bundle, outbox, broker=(broker.host, broker.port), **kw)  # type: ignore[arg-type]


def _hub(hub_factory: HubFactory, site: Site, broker: BrokerProcess, db_url: str | None = None):  # noqa: ANN202
    return hub_factory(site.path, db_url, extra_args=("--broker", f"{broker.host}:{broker.port}"))


def _stored_ids(hub, device_id: str) -> list[int]:  # noqa: ANN001
    store = hub.store()
    try:
        return store.record_ids(device_id)
    finally:
        store.close()


def test_records_reach_the_store_exactly_once(site: Site, enroll_device, broker: BrokerProcess,
                                              hub_factory: HubFactory, hub_db_url: str, tmp_path: Path) -> None:
    bundle = enroll_device("sim-001")
    hub = _hub(hub_factory, site, broker, hub_db_url)
    link = _link(bundle, broker, tmp_path / "outbox.db")
    ids = link.submit_many(Kind.CTG, SCHEMA, [body(i) for i in range(300)])
    link.start()
    try:
        assert link.wait_drained(30), f"outbox still holds {link.depth()} records"
    finally:
        link.stop()
    assert sorted(_stored_ids(hub, "sim-001")) == sorted(ids)


def test_broker_restart_mid_stream_loses_and_duplicates_nothing(site: Site, enroll_device, broker: BrokerProcess,
                                                                 hub_factory: HubFactory, tmp_path: Path) -> None:
    bundle = enroll_device("sim-002")
    hub = _hub(hub_factory, site, broker)
    link = _link(bundle, broker, tmp_path / "outbox.db", batch_max=10, window=4)
    link.start()
    ids: list[int] = []
    try:
        for i in range(40):
            ids += link.submit_many(Kind.CTG, SCHEMA, [body(i * 10 + j) for j in range(10)])
            if i == 15:
                broker.restart()
            time.sleep(0.02)
        assert link.wait_drained(60), f"outbox still holds {link.depth()} records"
    finally:
        link.stop()
    stored = _stored_ids(hub, "sim-002")
    store = hub.store()
    try:
        held = store.quarantine_rows()
    finally:
        store.close()
    assert not held, [(r.reason, r.detail) for r in held]  # a reconnect's resends are not replays
    assert len(stored) == len(set(stored)) == 400
    assert sorted(stored) == sorted(ids)
    assert link.stats.connects >= 2


DEVICE_SCRIPT = """
import os, signal, sys
from mch_link.device import DeviceLink
from mch_link.topics import Kind
bundle, outbox, host, port, n, mode = sys.argv[1:7]
link = DeviceLink.from_bundle(bundle, outbox, broker=(host, int(port)))
if mode == "kill-before-publish":
    ids = link.submit_many(Kind.CTG, "sim/1", [{"seq": i, "fhr_bpm": [140], "toco": [9]} for i in range(int(n))])
    print(ids[0], ids[-1], flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
link.start()
sys.exit(0 if link.wait_drained(60) else 1)
"""


def test_device_killed_between_outbox_write_and_publish(site: Site, enroll_device, broker: BrokerProcess,
                                                        hub_factory: HubFactory, tmp_path: Path) -> None:
    bundle = enroll_device("sim-003")
    hub = _hub(hub_factory, site, broker)
    outbox = tmp_path / "outbox.db"
    argv = [sys.executable, "-c", DEVICE_SCRIPT, str(bundle), str(outbox), broker.host, str(broker.port), "250"]
    killed = subprocess.run(argv + ["kill-before-publish"], capture_output=True, text=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL
    first, last = map(int, killed.stdout.split())
    assert wait_for_records(hub.db_url, 1, 0.5, "sim-003") == 0  # nothing was published
    drained = subprocess.run(argv + ["drain"], capture_output=True, text=True, timeout=90,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert drained.returncode == 0, drained.stderr
    assert sorted(_stored_ids(hub, "sim-003")) == list(range(first, last + 1))


@pytest.mark.slow
def test_long_offline_backlog_drains_completely(site: Site, enroll_device, broker: BrokerProcess,
                                                hub_factory: HubFactory, tmp_path: Path) -> None:
    """5,000 records queued while the device has no network, then one connection drains them."""
    bundle = enroll_device("sim-004")
    hub = _hub(hub_factory, site, broker)
    link = _link(bundle, broker, tmp_path / "outbox.db")
    ids: list[int] = []
    for chunk in range(50):  # as a station would: one record at a time, in small commits
        ids += link.submit_many(Kind.CTG, SCHEMA, [body(chunk * 100 + j) for j in range(100)])
    assert link.depth() == 5000
    started = time.monotonic()
    link.start()
    try:
        assert link.wait_drained(120), f"outbox still holds {link.depth()} records"
    finally:
        link.stop()
    drain_s = time.monotonic() - started
    stored = _stored_ids(hub, "sim-004")
    assert sorted(stored) == sorted(ids), f"drained in {drain_s:.1f} s"
