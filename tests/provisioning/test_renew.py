"""Certificate renewal in two steps against the real broker and hub: both certificates work
until `--finish`, then the old one is refused and the new one carries on, no record lost."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mch_link.registry import load_entry
from mqtt_broker_config.launcher import BrokerProcess
from provisioning import pki
from provisioning.devsite import DEV_PASSPHRASE
from provisioning.site import Site
from tests.central_hub.rawdevice import RawDevice
from tests.central_hub.test_worker import Sealer
from tests.mqtt_broker_config.probe import connect
from tests.provisioning.test_cli import EXIT_ERROR, EXIT_OK, run
from tests.support.broker import device_tls
from tests.support.hub import HubFactory, wait_for_records

PASS = DEV_PASSPHRASE.decode()
WAIT_S = 20.0


def _renewal_csr(bundle: Path, device_id: str, out: Path) -> Path:
    """What the device does: a CSR for renewal (here with its current key)."""
    key = pki.key_from_pem((bundle / "device.key.pem").read_bytes(), str(bundle))
    out.write_bytes(pki.make_csr(device_id, key))
    return out


@pytest.mark.integration
def test_renew_switch_finish(site: Site, broker: BrokerProcess, hub_factory: HubFactory, tmp_path: Path) -> None:
    old = site.enroll("kiosk-031", "kiosk").bundle
    old_serial = load_entry(site.path, "kiosk-031").cert_serial
    hub = hub_factory(site.path, broker=broker)
    sealer = Sealer(old)
    dev = RawDevice(old, broker.host, broker.port)
    try:
        dev.publish(*sealer.records(1, 2)).wait_for_publish(WAIT_S)
        assert wait_for_records(hub.db_url, 2, WAIT_S, "kiosk-031") == 2
    finally:
        dev.close()

    new = tmp_path / "kiosk-031-renewed"
    shutil.copytree(old, new)
    csr = _renewal_csr(old, "kiosk-031", tmp_path / "renew.csr.pem")
    issued = run("renew", "--site", site.path, "kiosk-031", "--csr", csr, "--out", new / "device.crt.pem",
                 env_passphrase=PASS)
    assert issued.returncode == EXIT_OK, issued.stderr
    new_serial = load_entry(site.path, "kiosk-031").cert_serial
    assert new_serial != old_serial
    again = run("renew", "--site", site.path, "kiosk-031", "--csr", csr, "--out", tmp_path / "x.pem",
                env_passphrase=PASS)
    assert again.returncode == EXIT_ERROR and "renew --finish kiosk-031" in again.stderr

    broker.reload()
    for bundle in (old, new):  # both valid until --finish
        connect(broker, device_tls(bundle), "kiosk-031").close()

    finished = run("renew", "--site", site.path, "kiosk-031", "--finish", env_passphrase=PASS)
    assert finished.returncode == EXIT_OK, finished.stderr
    broker.reload()
    with pytest.raises(ConnectionRefusedError):
        connect(broker, device_tls(old), "kiosk-031").close()
    dev = RawDevice(new, broker.host, broker.port)
    try:
        dev.publish(*sealer.records(3, 2)).wait_for_publish(WAIT_S)  # same link keys: records 3, 4
        assert wait_for_records(hub.db_url, 4, WAIT_S, "kiosk-031") == 4
    finally:
        dev.close()
    assert "kiosk-031" not in site.revoked_names()
    assert int(old_serial, 16) in pki.crl_entries(site.crl()) and int(new_serial, 16) not in pki.crl_entries(site.crl())
    nothing = run("renew", "--site", site.path, "kiosk-031", "--finish", env_passphrase=PASS)
    assert nothing.returncode == EXIT_ERROR and "no renewal waiting" in nothing.stderr
