"""The device's side of renewal: it installs only a certificate for its own new key, CN and
site CA, keeps the old pair, and tells the hub only once the broker took the new one."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mch_link import renewal
from provisioning import pki
from provisioning.site import Site

DEVICE = "kiosk-051"


class FakeHub:
    """Answers cert.renew with whatever `sign` makes of the CSR's key; records every call."""

    def __init__(self, sign: Any) -> None:
        self.sign = sign
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call(self, method: str, args: dict[str, Any], *, idempotency_key: str | None = None,
             timeout_s: float = 1.0) -> Any:
        self.calls.append((method, args))
        if method == renewal.RENEW_METHOD:
            csr = x509.load_pem_x509_csr(args["csr"].encode())
            cert = self.sign(csr.public_key())
            return {"status": "issued", "cert": cert.public_bytes(serialization.Encoding.PEM).decode()}
        return {"status": "switched"}


class FakeLink:
    def __init__(self, accepts: bool = True) -> None:
        self.accepts, self.reconnects = accepts, 0

    def reconnect(self) -> None:
        self.reconnects += 1

    def wait_connected(self, timeout_s: float) -> bool:
        return self.accepts


@pytest.fixture
def bundle(site: Site, tmp_path: Path) -> Path:
    path = tmp_path / "device"
    shutil.copytree(site.enroll(DEVICE, "kiosk").bundle, path)
    return path


def test_installs_the_certificate_keeps_the_old_pair_and_tells_the_hub(site: Site, bundle: Path) -> None:
    old_cert, old_key = (bundle / "device.crt.pem").read_bytes(), (bundle / "device.key.pem").read_bytes()
    hub = FakeHub(lambda key: pki.issue_leaf(DEVICE, key, site.issuer(), server=False, validity=pki.DEVICE_VALIDITY, site_id=site.info.site_id))
    link = FakeLink()
    outcome = renewal.RenewalClient(DEVICE, bundle, hub, link).ask()
    assert outcome.status == renewal.SWITCHED and link.reconnects == 1
    assert (bundle / "device.crt.pem.old").read_bytes() == old_cert
    assert (bundle / "device.key.pem.old").read_bytes() == old_key
    assert oct((bundle / "device.key.pem").stat().st_mode)[-3:] == "600"
    assert hub.calls[-1] == (renewal.RENEWED_METHOD, {"serial": outcome.serial})
    assert not (bundle / renewal.PENDING_DIR / "device.key.pem").exists()


@pytest.mark.parametrize("case", ["other-ca", "other-key", "other-cn"])
def test_a_certificate_not_for_this_device_is_refused_and_nothing_changes(site: Site, bundle: Path, tmp_path: Path,
                                                                         case: str) -> None:
    from provisioning.devsite import make_dev_site

    foreign = make_dev_site(tmp_path / "other-site")

    def sign(key: Any) -> x509.Certificate:
        if case == "other-ca":
            return pki.issue_leaf(DEVICE, key, foreign.issuer(), server=False, validity=pki.DEVICE_VALIDITY, site_id=foreign.info.site_id)
        if case == "other-key":
            return pki.issue_leaf(DEVICE, pki.new_key().public_key(), site.issuer(), server=False, validity=pki.DEVICE_VALIDITY,
                                  site_id=site.info.site_id)
        return pki.issue_leaf("kiosk-052", key, site.issuer(), server=False, validity=pki.DEVICE_VALIDITY, site_id=site.info.site_id)

    before = {p.name: p.read_bytes() for p in bundle.iterdir() if p.is_file()}
    hub, link = FakeHub(sign), FakeLink()
    with pytest.raises(renewal.RenewalError):
        renewal.RenewalClient(DEVICE, bundle, hub, link).ask()
    assert {p.name: p.read_bytes() for p in bundle.iterdir() if p.is_file()} == before
    assert link.reconnects == 0 and [m for m, _ in hub.calls] == [renewal.RENEW_METHOD]


def test_the_hub_is_not_told_when_the_broker_refuses_the_new_certificate(site: Site, bundle: Path) -> None:
    hub = FakeHub(lambda key: pki.issue_leaf(DEVICE, key, site.issuer(), server=False, validity=pki.DEVICE_VALIDITY, site_id=site.info.site_id))
    with pytest.raises(renewal.RenewalError, match="did not accept"):
        renewal.RenewalClient(DEVICE, bundle, hub, FakeLink(accepts=False)).ask()
    assert [m for m, _ in hub.calls] == [renewal.RENEW_METHOD]
    assert (bundle / "device.crt.pem.old").is_file()  # the old pair is there to go back to


class QueuedThenIssued(FakeHub):
    """Queued for the first `queued` asks (the technician has not signed yet), then issued."""

    def __init__(self, sign: Any, queued: int) -> None:
        super().__init__(sign)
        self.queued = queued

    def call(self, method: str, args: dict[str, Any], *, idempotency_key: str | None = None,
             timeout_s: float = 1.0) -> Any:
        if method == renewal.RENEW_METHOD and self.queued > 0:
            self.queued -= 1
            self.calls.append((method, args))
            return {"status": "queued"}
        return super().call(method, args, timeout_s=timeout_s)


def test_the_renew_command_asks_until_switched_in_its_own_thread(site: Site, bundle: Path) -> None:
    hub = QueuedThenIssued(lambda key: pki.issue_leaf(DEVICE, key, site.issuer(), server=False,
                                                      validity=pki.DEVICE_VALIDITY, site_id=site.info.site_id), 2)
    runner = renewal.RenewalRunner(renewal.RenewalClient(DEVICE, bundle, hub, FakeLink()), retry_s=0.05)
    assert runner.on_command("reboot", {})[0] == "refused"
    assert runner.on_command("renew", {}) == ("done", "renewal requested")
    assert runner.wait(10)
    assert runner.outcome is not None and runner.outcome.status == renewal.SWITCHED
    keys = [x509.load_pem_x509_csr(args["csr"].encode()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        for method, args in hub.calls if method == renewal.RENEW_METHOD]
    assert len(keys) == 3 and len(set(keys)) == 1  # the same key asked three times
    runner.stop()
