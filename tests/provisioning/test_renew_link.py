"""Certificate renewal over the link, against the real broker and hub (issue 16): the device asks
with a CSR of a key it made, the hub queues it (it holds no CA key), the technician signs the
queue, the device installs the certificate and reconnects with it, tells the hub, and only then
is the old serial revoked; records submitted throughout are all stored once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from central_hub.renewal import CERT_SUFFIX, CSR_SUFFIX, SWITCHED_SUFFIX, RenewalDesk
from mch_link import renewal
from mch_link.device import DeviceLink
from mch_link.keys import KEYS_FILE, LinkKeys
from mch_link.registry import load_entry
from mch_link.rpc import RpcClient
from mch_link.sitefiles import hub_view
from mch_link.topics import Kind
from mqtt_broker_config.launcher import BrokerProcess
from provisioning import pki
from provisioning.devsite import DEV_PASSPHRASE
from provisioning.site import Site
from tests.mqtt_broker_config.probe import connect
from tests.provisioning.test_cli import EXIT_ERROR, EXIT_OK, run
from tests.provisioning.test_renew import _renewal_csr
from tests.support.broker import device_tls
from tests.support.hub import HubFactory, count_records

PASS = DEV_PASSPHRASE.decode()
DEVICE = "kiosk-041"
WAIT_S = 30.0


def _bodies(start: int, n: int) -> list[dict[str, object]]:
    return [{"seq": i, "fhr_bpm": [140] * 4, "toco": [10] * 4} for i in range(start, start + n)]


@pytest.mark.integration
def test_renewal_over_the_link_switch_then_revoke(site: Site, broker: BrokerProcess, hub_factory: HubFactory,
                                                  tmp_path: Path) -> None:
    bundle = tmp_path / "device"
    shutil.copytree(site.enroll(DEVICE, "kiosk").bundle, bundle)
    old_serial = load_entry(site.path, DEVICE).cert_serial
    hub = hub_factory(site.path, broker=broker)
    link = DeviceLink.from_bundle(bundle, tmp_path / "outbox.db", broker=(broker.host, broker.port), heartbeat_s=1.0)
    client = renewal.RenewalClient(DEVICE, bundle, RpcClient(link, DEVICE, LinkKeys.read(bundle / KEYS_FILE)), link)
    queue = hub_view(site.path, "hub") / "renewals"
    link.start()
    try:
        assert link.wait_connected(WAIT_S)
        link.submit_many(Kind.RECORDS, "sim/1", _bodies(0, 50))
        assert client.ask() == renewal.Outcome(renewal.QUEUED)  # the hub cannot sign: queued for the technician
        assert (queue / f"{DEVICE}{CSR_SUFFIX}").is_file()
        assert client.ask().status == renewal.QUEUED  # asking again: the same key (kept in renew/)
        assert len(list((bundle / renewal.PENDING_DIR).iterdir())) == 1

        signed = run("renew", "--site", site.path, "--from-hub", env_passphrase=PASS)
        assert signed.returncode == EXIT_OK, signed.stderr
        assert f"signed 1 renewal(s): {DEVICE}" in signed.stdout
        new_serial = load_entry(site.path, DEVICE).cert_serial
        assert new_serial != old_serial and (queue / f"{DEVICE}{CERT_SUFFIX}").is_file()
        early = run("renew", "--site", site.path, DEVICE, "--finish", env_passphrase=PASS)
        assert early.returncode == EXIT_ERROR and "has not switched" in early.stderr  # old serial not revoked yet
        assert int(old_serial, 16) not in pki.crl_entries(site.crl())

        old_pair = tmp_path / "old-pair"
        old_pair.mkdir()
        shutil.copy(bundle / "ca.pem", old_pair / "ca.pem")
        shutil.copy(bundle / "device.crt.pem", old_pair / "device.crt.pem")
        shutil.copy(bundle / "device.key.pem", old_pair / "device.key.pem")
        link.submit_many(Kind.RECORDS, "sim/1", _bodies(50, 50))  # in flight while the device switches
        connects = link.stats.connects
        outcome = client.ask()
        assert outcome == renewal.Outcome(renewal.SWITCHED, new_serial)
        assert link.stats.connects == connects + 1
        installed = x509.load_pem_x509_certificate((bundle / "device.crt.pem").read_bytes())
        assert pki.serial_hex(installed) == new_serial
        assert (bundle / "device.key.pem").read_bytes() != (old_pair / "device.key.pem").read_bytes()
        assert (queue / f"{DEVICE}{SWITCHED_SUFFIX}").is_file()

        finished = run("renew", "--site", site.path, DEVICE, "--finish", env_passphrase=PASS)
        assert finished.returncode == EXIT_OK, finished.stderr
        assert int(old_serial, 16) in pki.crl_entries(site.crl())
        assert int(new_serial, 16) not in pki.crl_entries(site.crl())
        assert not (queue / f"{DEVICE}{CERT_SUFFIX}").exists()
        broker.reload()
        with pytest.raises(ConnectionRefusedError):
            connect(broker, device_tls(old_pair), DEVICE).close()
        link.submit_many(Kind.RECORDS, "sim/1", _bodies(100, 50))
        assert link.wait_drained(WAIT_S), "records did not drain over the renewed session"
        assert link.stats.connected
    finally:
        link.stop()
    assert count_records(hub.db_url, DEVICE) == 150
    store = hub.store()
    try:
        assert store.quarantine_counts() == {}
    finally:
        store.close()


def test_from_hub_signs_every_hub_queue_and_reports_what_it_could_not(site: Site, tmp_path: Path) -> None:
    """A request taken by hub-2 is signed too, and its certificate waits in every hub's queue (any
    worker may take the next ask); a device that cannot be renewed now is named, the others signed."""
    site.issue_hub_identity("hub-2")
    a_key = ec.generate_private_key(ec.SECP256R1())
    site.enroll("kiosk-042", "kiosk")
    b_bundle = site.enroll("kiosk-043", "kiosk").bundle
    assert run("renew", "--site", site.path, "kiosk-043", "--csr", _renewal_csr(b_bundle, "kiosk-043", tmp_path / "b.csr"),
               "--out", tmp_path / "b.crt.pem", env_passphrase=PASS).returncode == EXIT_OK  # b: a renewal waiting
    csr_a = pki.make_csr("kiosk-042", a_key).decode()
    assert RenewalDesk(hub_view(site.path, "hub-2")).renew("kiosk-042", {"csr": csr_a})[1]["status"] == "queued"
    csr_b = pki.make_csr("kiosk-043", ec.generate_private_key(ec.SECP256R1())).decode()
    assert RenewalDesk(hub_view(site.path, "hub")).renew("kiosk-043", {"csr": csr_b})[1]["status"] == "queued"

    signed = run("renew", "--site", site.path, "--from-hub", env_passphrase=PASS)
    assert signed.returncode == EXIT_ERROR
    assert "kiosk-043: not signed" in signed.stderr and "signed 1 renewal(s): kiosk-042" in signed.stderr
    for hub_id in ("hub", "hub-2"):  # whichever worker kiosk-042 asks next answers with its certificate
        ok, answer = RenewalDesk(hub_view(site.path, hub_id)).renew("kiosk-042", {"csr": csr_a})
        assert ok and answer["status"] == "issued", hub_id
    assert (hub_view(site.path, "hub") / "renewals" / "kiosk-043.csr.pem").exists()  # kept for later
