"""The hub worker against the real broker (mTLS, ACL, persistent sessions)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from central_hub.store import open_store
from mch_link import envelope
from mch_link.device import DeviceConfig, DeviceLink
from mch_link.envelope import Record
from mch_link.keys import KEYS_FILE, LinkKeys
from mch_link.outbox import Outbox
from mch_link.topics import Kind, topic
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.site import Site
from tests.central_hub.helpers import NOW_MS, sim_body
from tests.central_hub.rawdevice import RawDevice
from tests.support.hub import HubFactory, hub_site, wait_for_records
from tests.support.processes import process_tree

pytestmark = pytest.mark.integration

WAIT_S = 30.0


class Sealer:
    """Seals envelopes for a bundle's device with fresh counters."""

    def __init__(self, bundle: Path) -> None:
        self.keys = LinkKeys.read(bundle / KEYS_FILE)
        self.counter = 0

    def records(self, first_id: int, n: int, kind: Kind = Kind.RECORDS) -> tuple[str, bytes]:
        where = topic(self.keys.device_id, kind)
        recs = [Record(i, sim_body(i), NOW_MS) for i in range(first_id, first_id + n)]
        self.counter += 1
        return where, envelope.seal(self.keys.uplink, self.keys.device_id, where, self.counter, "sim/1", recs, NOW_MS)

    def state(self, event: str, bdseq: int, seq: int) -> tuple[str, bytes]:
        where = topic(self.keys.device_id, Kind.STATE)
        self.counter += 1
        body = {"event": event, "bdseq": bdseq, "seq": seq}
        return where, envelope.seal(self.keys.uplink, self.keys.device_id, where, self.counter, "state/1",
                                    [Record(0, body, NOW_MS)], NOW_MS)


def test_device_link_is_stored_acked_and_shown(site: Site, broker: BrokerProcess, enroll_device,
                                               hub_factory: HubFactory, tmp_path: Path) -> None:
    bundle = enroll_device("sim-001")
    hub = hub_factory(site.path, broker=broker)
    config = DeviceConfig("sim-001", "sim", broker.host, broker.port, bundle / "ca.pem", bundle / "device.crt.pem",
                          bundle / "device.key.pem", firmware="sim-fw/9")
    link = DeviceLink(config, LinkKeys.read(bundle / KEYS_FILE), Outbox(tmp_path / "outbox.db"), heartbeat_s=0.5)
    link.start()
    try:
        link.submit_many(Kind.CTG, "sim/1", [sim_body(i) for i in range(300)])
        assert link.wait_drained(WAIT_S), "the device never got its acknowledgements"
        time.sleep(1.0)  # a heartbeat or two
    finally:
        link.stop()
    assert wait_for_records(hub.db_url, 300, WAIT_S) == 300
    status = subprocess.run([sys.executable, "-m", "central_hub.cli", "status", "--site", str(hub_site(site.path)),
                             "--db", hub.db_url], capture_output=True, text=True, timeout=30)
    assert status.returncode == 0, status.stderr
    line = next(x for x in status.stdout.splitlines() if x.startswith("sim-001"))
    assert "sim-fw/9" in line and line.rstrip().endswith("300")


def test_persistent_session_keeps_what_arrives_while_the_hub_is_down(site: Site, broker: BrokerProcess,
                                                                    enroll_device, hub_factory: HubFactory) -> None:
    bundle = enroll_device("sim-001")
    hub = hub_factory(site.path, broker=broker)
    hub.stop()
    dev, sealer = RawDevice(bundle, broker.host, broker.port), Sealer(bundle)
    try:
        infos = [dev.publish(*sealer.records(i * 10, 10)) for i in range(20)]
        for info in infos:
            info.wait_for_publish(WAIT_S)
        hub.start()
        assert wait_for_records(hub.db_url, 200, WAIT_S) == 200
        assert dev.wait_for(lambda: len(dev.acked_ids()) == 200, WAIT_S)
    finally:
        dev.close()


@pytest.mark.slow
def test_hub_killed_mid_batch_loses_and_duplicates_nothing(site: Site, broker: BrokerProcess, enroll_device,
                                                           hub_factory: HubFactory) -> None:
    bundles = [enroll_device(f"sim-00{i}") for i in (1, 2)]
    # batches close 300 ms after their first message: the kill lands while one is open
    hub = hub_factory(site.path, broker=broker, extra_args=("--batch-ms", "300", "--batch-max", "40"))
    devices = [RawDevice(b, broker.host, broker.port) for b in bundles]
    sealers = [Sealer(b) for b in bundles]
    per_message, messages = 20, 250
    published: list[int] = [0, 0]

    def pump(slot: int) -> None:
        for m in range(messages):
            info = devices[slot].publish(*sealers[slot].records(m * per_message + 1, per_message))
            info.wait_for_publish(WAIT_S)  # PUBACK: the broker has it (it is queued for the hub's session)
            published[slot] += 1

    threads = [threading.Thread(target=pump, args=(i,)) for i in (0, 1)]
    try:
        for t in threads:
            t.start()
        wait_for_records(hub.db_url, 1, WAIT_S)  # the first batch is committed, the devices keep publishing
        hub.kill()  # SIGKILL: the next batch is open, its messages are neither committed nor acknowledged
        killed_at = open_store(hub.db_url)
        stored_at_kill = killed_at.record_count()
        killed_at.close()
        time.sleep(0.5)
        hub.start()
        for t in threads:
            t.join(WAIT_S * 2)
        expected = messages * per_message * 2
        assert published == [messages, messages]
        assert 0 < stored_at_kill < expected
        assert wait_for_records(hub.db_url, expected, WAIT_S) == expected
        store = open_store(hub.db_url)
        try:
            for slot in (0, 1):
                assert store.record_ids(f"sim-00{slot + 1}") == list(range(1, messages * per_message + 1))
            assert store.quarantine_counts() == {}
        finally:
            store.close()
    finally:
        for d in devices:
            d.close()


def store_process_pid(hub_pid: int) -> int:
    """The hub's store half: its child started by multiprocessing's spawn (not the resource tracker)."""
    for pid in process_tree(hub_pid)[1:]:
        if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    raise AssertionError(f"hub {hub_pid} has no store process")


def test_store_process_killed_mid_stream_loses_and_duplicates_nothing(site: Site, broker: BrokerProcess,
                                                                     enroll_device, hub_factory: HubFactory) -> None:
    bundle = enroll_device("sim-001")
    hub = hub_factory(site.path, broker=broker, extra_args=("--batch-max", "20"))
    device, sealer = RawDevice(bundle, broker.host, broker.port), Sealer(bundle)
    per_message, messages = 10, 300
    try:
        for m in range(messages // 2):
            device.publish(*sealer.records(m * per_message + 1, per_message))
        wait_for_records(hub.db_url, 1, WAIT_S)
        assert hub.proc is not None
        first = store_process_pid(hub.proc.pid)
        os.kill(first, signal.SIGSTOP)  # batches now wait in the pipe, unanswered ...
        for m in range(messages // 2, messages):
            device.publish(*sealer.records(m * per_message + 1, per_message)).wait_for_publish(WAIT_S)
        time.sleep(0.5)
        os.kill(first, signal.SIGKILL)  # ... when the store process dies
        expected = messages * per_message
        assert wait_for_records(hub.db_url, expected, WAIT_S) == expected
        assert store_process_pid(hub.proc.pid) != first
        assert hub.running()
        hub.stop()  # saves the worker's counters
        store = open_store(hub.db_url)
        try:
            assert store.record_ids("sim-001") == list(range(1, expected + 1))
            assert store.quarantine_counts() == {}
            assert store.worker_stats()["hub"][1]["store_restarts"] >= 1
        finally:
            store.close()
        assert "restarting it" in hub.log_text()
    finally:
        device.close()


def test_seq_gap_gets_a_rebirth_request_and_forgery_is_quarantined(site: Site, broker: BrokerProcess,
                                                                   enroll_device, hub_factory: HubFactory) -> None:
    bundle = enroll_device("sim-001")
    hub = hub_factory(site.path, broker=broker)
    dev, sealer = RawDevice(bundle, broker.host, broker.port), Sealer(bundle)
    try:
        dev.publish(*sealer.state("birth", bdseq=3, seq=0)).wait_for_publish(WAIT_S)
        dev.publish(*sealer.state("heartbeat", bdseq=3, seq=4)).wait_for_publish(WAIT_S)
        assert dev.wait_for(lambda: {"command": "rebirth"} in dev.commands(), WAIT_S)
        where, payload = sealer.records(1, 1)
        dev.publish(where, payload[:-1] + bytes([payload[-1] ^ 1])).wait_for_publish(WAIT_S)
        store = open_store(hub.db_url)
        try:
            deadline = time.monotonic() + WAIT_S
            while store.quarantine_counts() != {"auth-failed": 1} and time.monotonic() < deadline:
                time.sleep(0.1)
            assert store.quarantine_counts() == {"auth-failed": 1}
            [row] = store.fleet_rows()
            assert (row.online, row.bdseq, row.seq) == (True, 3, 4)
        finally:
            store.close()
    finally:
        dev.close()


def test_two_workers_share_the_load_on_postgresql(site: Site, enroll_device, hub_factory: HubFactory,
                                                  pg_dsn: str, request: pytest.FixtureRequest) -> None:
    site.issue_hub_identity("hub-1")
    site.issue_hub_identity("hub-2")
    bundle = enroll_device("sim-001")
    broker = request.getfixturevalue("broker")  # started after the hub identities exist (ACL)
    db_url = request.getfixturevalue("hub_pg_url")
    hubs = [hub_factory(site.path, db_url, hub_id=h, share_group="hub", broker=broker) for h in ("hub-1", "hub-2")]
    dev, sealer = RawDevice(bundle, broker.host, broker.port), Sealer(bundle)
    try:
        infos = [dev.publish(*sealer.records(i * 10 + 1, 10)) for i in range(60)]
        for info in infos:
            info.wait_for_publish(WAIT_S)
        assert wait_for_records(db_url, 600, WAIT_S) == 600
        assert dev.wait_for(lambda: dev.acked_ids() == set(range(1, 601)), WAIT_S)
        for h in hubs:
            h.stop()
        store = open_store(db_url)
        try:
            per_worker = {w: s.get("records_stored", 0) for w, (_, s) in store.worker_stats().items()}
            assert set(per_worker) == {"hub-1", "hub-2"} and all(n > 0 for n in per_worker.values())
            assert sum(per_worker.values()) == 600
        finally:
            store.close()
    finally:
        dev.close()
