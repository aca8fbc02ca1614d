"""Enrolment where the key is made: `mch-kiosk|mch-station enroll-request` on the device, the
technician's `mch-provision enroll --usb`, `enroll-install` back on the device; then the device
talks to the real broker and hub, is revoked and is refused and disconnected."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from mch_link.enrolment import EnrolmentError, install_bundle, make_request, usb_bundle_dir, usb_request_path
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.devsite import DEV_PASSPHRASE
from provisioning.site import Site
from provisioning.usb import write_manifest
from tests.central_hub.rawdevice import RawDevice
from tests.central_hub.test_worker import Sealer
from tests.mqtt_broker_config.probe import connect
from tests.provisioning.test_cli import EXIT_ERROR, EXIT_OK, TIMEOUT_S
from tests.provisioning.test_cli import run as provision
from tests.support.broker import device_tls
from tests.support.hub import HubFactory, wait_for_records

BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"
PASS = DEV_PASSPHRASE.decode()
WAIT_S = 20.0


def device_cli(tool: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([shutil.which(tool) or str(BIN / tool), *map(str, args)], capture_output=True, text=True,
                          timeout=TIMEOUT_S, stdin=subprocess.DEVNULL, check=False)


def test_request_makes_a_private_key_and_never_replaces_it(tmp_path: Path) -> None:
    bundle = tmp_path / "etc-mch"
    stick = tmp_path / "stick"
    csr = make_request("station-07", bundle, usb=stick)
    assert csr == usb_request_path(stick, "station-07") and b"BEGIN CERTIFICATE REQUEST" in csr.read_bytes()
    assert stat.S_IMODE(os.stat(bundle / "device.key.pem").st_mode) == 0o600
    assert not list(stick.rglob("*.key.pem"))
    key_before = (bundle / "device.key.pem").read_bytes()
    with pytest.raises(EnrolmentError, match="already has a key"):
        make_request("station-07", bundle)
    assert (bundle / "device.key.pem").read_bytes() == key_before
    with pytest.raises(EnrolmentError):
        make_request("../etc", tmp_path / "other")


def test_install_refuses_a_bundle_for_another_key_or_a_damaged_copy(site: Site, tmp_path: Path) -> None:
    device = tmp_path / "device"
    stick = tmp_path / "stick"
    make_request("kiosk-010", device, usb=stick)
    # a bundle issued for some other key (site-made) is refused, nothing written
    other = site.enroll("kiosk-010", "kiosk").bundle
    with pytest.raises(EnrolmentError, match="not issued for this device's key"):
        install_bundle(other, device)
    with pytest.raises(EnrolmentError, match="the device's own bundle directory"):
        install_bundle(device, device)
    assert (device / "device.key.pem").exists()
    assert not (device / "device.crt.pem").exists()
    # a damaged copy on the stick is named
    site2 = Site.open(site.path, DEV_PASSPHRASE)
    bundle = site2.enroll("kiosk-011", "kiosk", bundle_dir=usb_bundle_dir(stick, "kiosk-011"),
                          csr_pem=make_request("kiosk-011", tmp_path / "d11").read_bytes()).bundle
    write_manifest(bundle)
    (bundle / "config.json").write_text(json.dumps({**json.loads((bundle / "config.json").read_text()),
                                                    "broker_host": "10.6.6.6"}))
    with pytest.raises(EnrolmentError, match="config.json does not match manifest.json"):
        install_bundle(bundle, tmp_path / "d11")


@pytest.mark.integration
def test_device_made_key_to_broker_and_hub_then_revoked(site: Site, broker: BrokerProcess,
                                                        hub_factory: HubFactory, tmp_path: Path) -> None:
    device_dir = tmp_path / "kiosk-etc-mch"
    stick = tmp_path / "usb-stick"
    req = device_cli("mch-kiosk", "enroll-request", "kiosk-021", "--bundle", device_dir, "--usb", stick)
    assert req.returncode == EXIT_OK, req.stderr
    assert "mch-provision enroll" in req.stdout
    again = device_cli("mch-kiosk", "enroll-request", "kiosk-021", "--bundle", device_dir)
    assert again.returncode == EXIT_ERROR and "already has a key" in again.stderr

    enrolled = provision("enroll", "--site", site.path, "kiosk-021", "--kind", "kiosk", "--usb", stick,
                         env_passphrase=PASS)
    assert enrolled.returncode == EXIT_OK, enrolled.stderr
    on_stick = usb_bundle_dir(stick, "kiosk-021")
    assert not (on_stick / "device.key.pem").exists() and (on_stick / "manifest.json").exists()
    assert not list(site.path.rglob("device.key.pem"))  # the key was never anywhere but on the device

    installed = device_cli("mch-kiosk", "enroll-install", "--bundle", device_dir, "--usb", stick,
                           "--device-id", "kiosk-021")
    assert installed.returncode == EXIT_OK, installed.stderr
    assert stat.S_IMODE(os.stat(device_dir / "link-keys.json").st_mode) == 0o600
    assert not (on_stick / "link-keys.json").exists()  # the envelope keys left the stick
    assert not list(stick.rglob("*.key.pem")) and not list(stick.rglob("link-keys.json"))

    # a station does the same through mch-station
    station_dir = tmp_path / "station-etc-mch"
    assert device_cli("mch-station", "enroll-request", "station-02", "--bundle", station_dir,
                      "--usb", stick).returncode == EXIT_OK
    assert provision("enroll", "--site", site.path, "station-02", "--kind", "station", "--usb", stick,
                     env_passphrase=PASS).returncode == EXIT_OK
    assert device_cli("mch-station", "enroll-install", "--bundle", station_dir, "--from",
                      usb_bundle_dir(stick, "station-02")).returncode == EXIT_OK

    hub = hub_factory(site.path, broker=broker)
    dev = RawDevice(device_dir, broker.host, broker.port)
    try:
        dev.publish(*Sealer(device_dir).records(1, 2)).wait_for_publish(WAIT_S)
        assert wait_for_records(hub.db_url, 2, WAIT_S, "kiosk-021") == 2
    finally:
        dev.close()

    probe = connect(broker, device_tls(device_dir), "kiosk-021")
    try:
        revoked = provision("revoke", "--site", site.path, "kiosk-021", env_passphrase=PASS)
        assert revoked.returncode == EXIT_OK, revoked.stderr
        broker.reload()
        assert probe.disconnected.wait(WAIT_S), "the revoked kiosk stayed connected"
    finally:
        probe.close()
    with pytest.raises(ConnectionRefusedError):
        connect(broker, device_tls(device_dir), "kiosk-021").close()
    station = connect(broker, device_tls(station_dir), "station-02")  # the others carry on
    station.close()
