"""Issue 16, what must be shown: the whole lifecycle against the real broker and hub, by the
technician's commands: enrol -> connect -> renew over the link -> rotate keys -> revoke ->
refused and disconnected. Records before each step are stored once; none after the revocation."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from mch_link import renewal
from mch_link.device import DeviceLink
from mch_link.keys import KEYS_FILE, LinkKeys
from mch_link.rpc import RpcClient
from mch_link.topics import Kind
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.devsite import DEV_PASSPHRASE
from provisioning.site import Site
from tests.mqtt_broker_config.probe import connect
from tests.provisioning.test_cli import EXIT_OK, run
from tests.support.broker import device_tls
from tests.support.hub import HubFactory, count_records

pytestmark = pytest.mark.integration

PASS = DEV_PASSPHRASE.decode()
DEVICE = "station-091"
WAIT_S = 30.0


def _bodies(start: int, n: int) -> list[dict[str, object]]:
    return [{"seq": i, "fhr_bpm": [138] * 4, "toco": [12] * 4} for i in range(start, start + n)]


def _ok(*args: str | Path) -> str:
    done = run(*args, env_passphrase=PASS)
    assert done.returncode == EXIT_OK, done.stderr
    return done.stdout


def test_enrol_connect_renew_rotate_revoke(site: Site, broker: BrokerProcess, hub_factory: HubFactory,
                                           tmp_path: Path) -> None:
    bundle = tmp_path / "station"
    _ok("enroll", "--site", site.path, DEVICE, "--kind", "station", "--bundle", bundle)
    hub = hub_factory(site.path, broker=broker)
    link = DeviceLink.from_bundle(bundle, tmp_path / "outbox.db", broker=(broker.host, broker.port),
                                  ack_timeout_s=3.0, heartbeat_s=1.0)
    rpc = RpcClient(link, DEVICE, LinkKeys.read(bundle / KEYS_FILE))
    renewer = renewal.RenewalClient(DEVICE, bundle, rpc, link)
    link.start()
    try:
        assert link.wait_connected(WAIT_S)  # connect
        link.submit_many(Kind.RECORDS, "sim/1", _bodies(0, 20))
        assert link.wait_drained(WAIT_S)

        assert renewer.ask().status == renewal.QUEUED  # renew over the link
        _ok("renew", "--site", site.path, "--from-hub")
        switched = renewer.ask()
        assert switched.status == renewal.SWITCHED
        _ok("renew", "--site", site.path, DEVICE, "--finish")
        broker.reload()
        with pytest.raises(ConnectionRefusedError):  # the old certificate is on the CRL
            old = tmp_path / "old"
            old.mkdir()
            for name in ("ca.pem", "device.crt.pem.old", "device.key.pem.old"):
                shutil.copy(bundle / name, old / name.removesuffix(".old"))
            connect(broker, device_tls(old), DEVICE).close()
        link.submit_many(Kind.RECORDS, "sim/1", _bodies(20, 20))
        assert link.wait_drained(WAIT_S)

        _ok("rotate-keys", "--site", site.path, DEVICE, "--out", bundle)  # rotate keys
        keys = LinkKeys.read(bundle / KEYS_FILE)
        link.rotate_keys(keys)
        rpc.rekey(keys)
        link.submit_many(Kind.RECORDS, "sim/1", _bodies(40, 20))
        assert link.wait_drained(WAIT_S)
        assert rpc.call("patient.find", {"outpatient_no": "MZ99999999"}, timeout_s=10) is None

        out = _ok("revoke", "--site", site.path, DEVICE, "--yes")  # revoke
        assert DEVICE in out
        broker.reload()
        deadline = time.monotonic() + WAIT_S
        while link.stats.connected:  # disconnected by the broker at the reload
            assert time.monotonic() < deadline, "the revoked device is still connected"
            time.sleep(0.05)
        link.submit_many(Kind.RECORDS, "sim/1", _bodies(60, 5))  # kept on the device, never delivered
        time.sleep(5)
        assert not link.stats.connected and link.depth() == 5
        with pytest.raises(ConnectionRefusedError):  # refused: the new certificate too
            connect(broker, device_tls(bundle), DEVICE).close()
    finally:
        link.stop()
    assert count_records(hub.db_url, DEVICE) == 60
    store = hub.store()
    try:
        assert sorted(store.record_ids(DEVICE)) == list(range(1, 61))
    finally:
        store.close()
