"""Envelope-key rotation with records in flight, against the real broker and hub (issue 16):
envelopes sealed under the old keys wait in the broker's queue for the hub while both sides
move to the new keys; every record is stored once and nothing is quarantined."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from mch_link.device import DeviceLink
from mch_link.keys import KEYS_FILE, LinkKeys
from mch_link.registry import load_entry
from mch_link.rpc import RpcClient
from mch_link.sitefiles import hub_view
from mch_link.topics import Kind
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.devsite import DEV_PASSPHRASE
from provisioning.site import Site
from tests.provisioning.test_cli import EXIT_ERROR, EXIT_OK, run
from tests.support.hub import HubFactory, count_records

pytestmark = pytest.mark.integration

PASS = DEV_PASSPHRASE.decode()
DEVICE = "sim-061"
WAIT_S = 60.0


def _bodies(start: int, n: int) -> list[dict[str, object]]:
    return [{"seq": i, "fhr_bpm": [140] * 4, "toco": [10] * 4} for i in range(start, start + n)]


def test_rotation_with_envelopes_in_flight_stores_every_record_once(site: Site, broker: BrokerProcess,
                                                                   hub_factory: HubFactory, tmp_path: Path) -> None:
    bundle = tmp_path / "device"
    shutil.copytree(site.enroll(DEVICE).bundle, bundle)
    old_keys = LinkKeys.read(bundle / KEYS_FILE)
    hub = hub_factory(site.path, broker=broker)
    link = DeviceLink.from_bundle(bundle, tmp_path / "outbox.db", broker=(broker.host, broker.port),
                                  batch_max=5, ack_timeout_s=3.0, heartbeat_s=1.0)
    rpc = RpcClient(link, DEVICE, old_keys)
    link.start()
    try:
        assert link.wait_connected(WAIT_S)
        link.submit_many(Kind.RECORDS, "sim/1", _bodies(0, 20))
        assert link.wait_drained(WAIT_S)
        hub.stop()  # what the device sends now waits in the broker, for the hub's persistent session
        link.submit_many(Kind.RECORDS, "sim/1", _bodies(20, 200))
        deadline = time.monotonic() + WAIT_S
        while link.stats.envelopes_sent < 4 + 16 and time.monotonic() < deadline:
            time.sleep(0.05)
        sent_under_old = link.stats.envelopes_sent
        assert sent_under_old >= 20, "the device did not fill its window under the old keys"

        rotated = run("rotate-keys", "--site", site.path, DEVICE, "--out", bundle, env_passphrase=PASS)
        assert rotated.returncode == EXIT_OK, rotated.stderr
        new_keys = LinkKeys.read(bundle / KEYS_FILE)
        assert not new_keys.uplink.same_material(old_keys.uplink)
        assert new_keys.uplink.previous is not None and new_keys.uplink.previous.same_material(old_keys.uplink)
        view_entry = load_entry(hub_view(site.path, "hub"), DEVICE)
        assert view_entry.keys.uplink.same_material(new_keys.uplink)  # the hub's copy knows both
        assert json.loads((bundle / KEYS_FILE).read_text())["previous"]["until_ms"] > time.time() * 1000
        link.rotate_keys(new_keys)
        rpc.rekey(new_keys)
        link.submit_many(Kind.RECORDS, "sim/1", _bodies(220, 80))  # sealed under the new keys

        hub.start()  # old-key envelopes from the broker's queue, then new-key ones
        assert link.wait_drained(WAIT_S), f"{link.depth()} records not acknowledged"
        assert rpc.call("patient.find", {"outpatient_no": "MZ99999999"}) is None  # requests under the new keys too
    finally:
        link.stop()
    assert count_records(hub.db_url, DEVICE) == 300
    store = hub.store()
    try:
        assert store.quarantine_counts() == {}, "an envelope under the old keys was refused"
        assert sorted(store.record_ids(DEVICE)) == list(range(1, 301))
    finally:
        store.close()


def test_rotate_keys_refuses_a_revoked_device_and_a_bad_grace(site: Site, tmp_path: Path) -> None:
    site.enroll("sim-062")
    bad = run("rotate-keys", "--site", site.path, "sim-062", "--out", tmp_path / "k", "--grace-days", "0",
              env_passphrase=PASS)
    assert bad.returncode == EXIT_ERROR and "--grace-days" in bad.stderr
    site.revoke("sim-062")
    refused = run("rotate-keys", "--site", site.path, "sim-062", "--out", tmp_path / "k", env_passphrase=PASS)
    assert refused.returncode == EXIT_ERROR and "revoked" in refused.stderr
    assert not (tmp_path / "k" / KEYS_FILE).exists()
