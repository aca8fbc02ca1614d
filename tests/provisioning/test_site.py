"""The site library: CA, identities, enrolment, revocation, CRL, file modes."""

from __future__ import annotations

import json
import re
import stat
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mch_link.keys import LinkKeys
from mch_link.registry import DeviceKind, DeviceStatus, load_registry, load_site_info
from mch_link.sitefiles import broker_view, hub_view, load_revoked
from provisioning import cakey, pki
from provisioning.devsite import DEV_ROOT_PASSPHRASE
from provisioning.errors import (
    EnrollmentError,
    PassphraseError,
    ProvisioningError,
    SiteError,
    UnknownDeviceError,
)
from provisioning.site import Site
from tests.support.pki import TEST_PASSPHRASE

OPENSSL = "/usr/bin/openssl"
SECRET_NAMES = ("*.key.pem", "*.key.json", "link-keys.json", "registry/*.json")


def cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def openssl_verify(site: Site, leaf: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OPENSSL, "verify", "-CAfile", str(site.chain_path), "-crl_check",
                           "-CRLfile", str(site.crl_path), str(leaf)], capture_output=True, text=True,
                          timeout=10, check=False)


def test_init_writes_the_contract_layout(site: Site) -> None:
    for rel in ("site.json", "ca/root.crt.pem", "ca/chain.pem", "ca/crl.pem", "broker/broker.crt.pem",
                "broker/broker.key.pem", "hub/hub.crt.pem", "hub/hub.key.pem"):
        assert (site.path / rel).is_file(), rel
    assert (site.path / "registry").is_dir()
    info = load_site_info(site.path)
    assert (info.site_id, info.broker_host, info.broker_port, info.hub_ids) == ("dev", "127.0.0.1", 8883, ("hub",))


def test_ca_keys_are_under_scrypt_with_separate_passphrases(site: Site) -> None:
    """Scenario 8: root and issuing keys once shared one passphrase at 2,048 PBKDF2 rounds."""
    for name, passphrase, other in (("root.key.json", DEV_ROOT_PASSPHRASE, TEST_PASSPHRASE),
                                    ("issuing.key.json", TEST_PASSPHRASE, DEV_ROOT_PASSPHRASE)):
        path = site.ca_dir / name
        doc = json.loads(path.read_text())
        assert (doc["format"], doc["kdf"], doc["cipher"], doc["r"], doc["p"]) == ("mch-ca-key/1", "scrypt",
                                                                                  "AES-256-GCM", 8, 1)
        assert b"PRIVATE KEY" not in path.read_bytes()
        assert cakey.unprotect(path.read_bytes(), name, passphrase) is not None
        with pytest.raises(PassphraseError, match="wrong passphrase"):
            cakey.unprotect(path.read_bytes(), name, other)
    assert not list(site.ca_dir.glob("*.key.pem"))


def test_ca_key_parameters_are_bound_and_production_cost_is_owasp(tmp_path: Path) -> None:
    key = pki.new_key()
    data = cakey.protect(key, b"a long passphrase", cakey.ScryptCost(n=2**10))
    doc = json.loads(data)
    doc["n"] = 2**11  # a tampered cost no longer decrypts: parameters are associated data
    with pytest.raises(PassphraseError):
        cakey.unprotect(json.dumps(doc).encode(), "tampered", b"a long passphrase")
    doc["n"] = 2**30
    with pytest.raises(ProvisioningError, match="out of range"):
        cakey.unprotect(json.dumps(doc).encode(), "huge", b"a long passphrase")
    assert (cakey.PRODUCTION_COST.n, cakey.PRODUCTION_COST.r, cakey.PRODUCTION_COST.p) == (2**17, 8, 1)


def test_root_passphrase_must_differ(tmp_path: Path) -> None:
    with pytest.raises(PassphraseError, match="must differ"):
        Site.init(tmp_path / "s", TEST_PASSPHRASE, "x", root_passphrase=TEST_PASSPHRASE)


def test_crl_renewal_needs_only_the_issuing_key(site: Site) -> None:
    """The root key can live offline: a site without it renews its CRL and enrols."""
    (site.ca_dir / "root.key.json").rename(site.path.parent / "offline-root.key.json")
    reopened = Site.open(site.path, TEST_PASSPHRASE)
    before = reopened.crl_next_update()
    assert reopened.renew_crl(validity=timedelta(days=45)) > before
    reopened.enroll("kiosk-001", "kiosk")


def test_wrong_passphrase_is_a_clear_error(site: Site) -> None:
    reopened = Site.open(site.path, b"not-the-passphrase")
    with pytest.raises(PassphraseError, match="issuing.key.json: wrong passphrase"):
        reopened.enroll("kiosk-001", "kiosk")
    with pytest.raises(PassphraseError, match="needs the site passphrase"):
        Site.open(site.path).renew_crl()


def test_broker_certificate_names_and_usage(tmp_path: Path) -> None:
    s = Site.init(tmp_path / "s", TEST_PASSPHRASE, "ward-7", root_passphrase=DEV_ROOT_PASSPHRASE, broker_host="mqtt.ward7.example")
    c = cert(s.broker_cert_path)
    san = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "mqtt.ward7.example"}
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    eku = c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert openssl_verify(s, s.broker_cert_path).returncode == 0


def test_hub_identities(tmp_path: Path) -> None:
    s = Site.init(tmp_path / "s", TEST_PASSPHRASE, "x", root_passphrase=DEV_ROOT_PASSPHRASE, hub_ids=["hub", "hub-1"])
    ident = s.issue_hub_identity("hub-2")
    assert load_site_info(s.path).hub_ids == ("hub", "hub-1", "hub-2")
    assert cert(ident.cert).subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "hub-2"
    assert openssl_verify(s, ident.cert).returncode == 0
    with pytest.raises(SiteError, match="already exists"):
        s.issue_hub_identity("hub-1")
    with pytest.raises(SiteError, match="invalid hub identity"):
        s.issue_hub_identity("kiosk-001")


def test_init_refuses_an_existing_site(site: Site) -> None:
    with pytest.raises(SiteError, match="already a site"):
        Site.init(site.path, TEST_PASSPHRASE, "again", root_passphrase=DEV_ROOT_PASSPHRASE)


def test_open_a_directory_that_is_not_a_site(tmp_path: Path) -> None:
    with pytest.raises(SiteError, match="not a site"):
        Site.open(tmp_path)


def test_enroll_writes_bundle_and_registry(site: Site) -> None:
    result = site.enroll("kiosk-001", DeviceKind.KIOSK)
    bundle = result.bundle
    c = cert(bundle / "device.crt.pem")
    assert c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kiosk-001"
    assert list(c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    public = c.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"
    key = serialization.load_pem_private_key((bundle / "device.key.pem").read_bytes(), password=None)
    assert key.public_key().public_numbers() == public.public_numbers()  # type: ignore[union-attr]
    assert (bundle / "ca.pem").read_bytes() == site.chain_path.read_bytes()
    assert openssl_verify(site, bundle / "device.crt.pem").returncode == 0
    config = json.loads((bundle / "config.json").read_text())
    assert config == {"format": "mch-device/1", "device_id": "kiosk-001", "kind": "kiosk", "site_id": "dev",
                      "broker_host": "127.0.0.1", "broker_port": 8883}
    keys = LinkKeys.read(bundle / "link-keys.json")
    entry = load_registry(site.path)["kiosk-001"]
    assert entry.keys == keys and entry.kind is DeviceKind.KIOSK and entry.status is DeviceStatus.ACTIVE
    assert entry.cert_serial == format(c.serial_number, "x")
    assert entry.not_after == c.not_valid_after_utc
    assert timedelta(days=364) < entry.not_after - pki.now_utc() <= pki.DEVICE_VALIDITY


def test_enroll_from_the_devices_own_csr(site: Site, tmp_path: Path) -> None:
    device_key = pki.new_key()  # made on the device; never shown to provisioning
    csr = pki.make_csr("bridge-ctg-001", device_key)
    result = site.enroll("bridge-ctg-001", "bridge", bundle_dir=tmp_path / "dev", csr_pem=csr)
    assert not (result.bundle / "device.key.pem").exists()
    issued = cert(result.bundle / "device.crt.pem")
    assert issued.public_key().public_numbers() == device_key.public_key().public_numbers()  # type: ignore[union-attr]


def test_csr_checks(site: Site) -> None:
    with pytest.raises(EnrollmentError, match="common name is 'kiosk-009'"):
        site.enroll("kiosk-001", "kiosk", csr_pem=pki.make_csr("kiosk-009", pki.new_key()))
    with pytest.raises(EnrollmentError, match="not a PEM certificate signing request"):
        site.enroll("kiosk-001", "kiosk", csr_pem=b"garbage")


def test_enroll_rejects_bad_ids_kinds_and_reuse(site: Site) -> None:
    site.enroll("kiosk-001", "kiosk")
    with pytest.raises(EnrollmentError, match="kiosk-001 is already enrolled"):
        site.enroll("kiosk-001", "kiosk")
    with pytest.raises(EnrollmentError, match="invalid device id"):
        site.enroll("Kiosk_1", "kiosk")
    with pytest.raises(EnrollmentError, match="invalid device id"):
        site.enroll("hub-3", "kiosk")
    with pytest.raises(EnrollmentError, match="unknown kind 'printer'"):
        site.enroll("kiosk-002", "printer")


def test_revoke_updates_crl_and_registry(site: Site) -> None:
    bundle = site.enroll("station-01", "station").bundle
    other = site.enroll("station-02", "station").bundle
    number_before = pki.crl_number(site.crl())
    entry = site.revoke("station-01")
    assert entry.status is DeviceStatus.REVOKED and entry.revoked_at is not None
    assert load_registry(site.path)["station-01"].status is DeviceStatus.REVOKED
    crl = site.crl()
    assert pki.crl_number(crl) == number_before + 1
    assert crl.get_revoked_certificate_by_serial_number(cert(bundle / "device.crt.pem").serial_number)
    refused = openssl_verify(site, bundle / "device.crt.pem")
    assert refused.returncode != 0 and "certificate revoked" in refused.stdout + refused.stderr
    assert openssl_verify(site, other / "device.crt.pem").returncode == 0
    with pytest.raises(UnknownDeviceError, match="kiosk-404 is not enrolled"):
        site.revoke("kiosk-404")


def test_renew_crl_keeps_entries_and_moves_next_update(site: Site) -> None:
    site.enroll("kiosk-001", "kiosk")
    site.revoke("kiosk-001")
    revoked_before = pki.crl_entries(site.crl())
    past = pki.now_utc() - timedelta(days=3)
    site.renew_crl(now=past, validity=timedelta(days=1))
    assert site.crl_next_update() < pki.now_utc()
    next_update = site.renew_crl()
    assert site.crl_next_update() == next_update.replace(microsecond=0)
    assert next_update - pki.now_utc() > pki.CRL_VALIDITY - timedelta(minutes=1)
    assert set(pki.crl_entries(site.crl())) == set(revoked_before)


def test_every_secret_is_0600(site: Site) -> None:
    site.enroll("kiosk-001", "kiosk")
    site.enroll("station-01", "station")
    site.issue_hub_identity("hub-1")
    secrets = {p for pattern in SECRET_NAMES for p in site.path.rglob(pattern)
               if "deploy" not in p.relative_to(site.path).parts}
    # root + issuing CA, broker, hub, hub-1, 2 device keys, 2 link keys, 2 registry entries
    assert len(secrets) == 2 + 1 + 1 + 1 + 2 + 2 + 2
    for path in secrets:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for path in site.path.rglob("*.crt.pem"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    for sub in ("registry", "broker", "hub", "bundles"):
        assert stat.S_IMODE((site.path / sub).stat().st_mode) == 0o700, sub


def test_secrets_are_created_0600_not_chmoded(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every secret file is opened with mode 0600 by os.open; nothing is chmod'ed afterwards."""
    import os

    opened: list[tuple[str, int]] = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *args, **kwargs):  # type: ignore[no-untyped-def]
        if flags & os.O_CREAT:
            opened.append((str(path), mode))
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    monkeypatch.setattr(os, "chmod", lambda *a, **k: pytest.fail(f"chmod called: {a}"))
    site.enroll("kiosk-001", "kiosk")
    modes = {re.sub(r"^\.(.*)\.[0-9a-f]{16}\.tmp$", r"\1", Path(p).name): m for p, m in opened}
    assert modes["device.key.pem"] == 0o600
    assert modes["link-keys.json"] == 0o600
    assert modes["kiosk-001.json"] == 0o600
    assert modes["device.crt.pem"] == 0o644


def test_revoke_a_hub_identity(site: Site) -> None:
    ident = site.issue_hub_identity("hub-1")
    site.revoke_hub_identity("hub-1")
    assert load_site_info(site.path).hub_ids == ("hub",)
    assert site.crl().get_revoked_certificate_by_serial_number(cert(ident.cert).serial_number)
    assert openssl_verify(site, site.hub_identity("hub").cert).returncode == 0
    with pytest.raises(UnknownDeviceError, match="not an active hub identity"):
        site.revoke_hub_identity("hub-1")
    with pytest.raises(SiteError, match="already exists"):
        site.issue_hub_identity("hub-1")  # identities are never reused


def test_views_hold_only_what_each_server_needs(site: Site) -> None:
    """Scenario 8: broker and hub once ran on the whole site (CA keys, every device's TLS key)."""
    site.issue_hub_identity("hub-1")
    site.enroll("kiosk-001", "kiosk")
    files = {view: sorted(str(p.relative_to(view)) for p in view.rglob("*") if p.is_file())
             for view in (broker_view(site.path), hub_view(site.path, "hub"), hub_view(site.path, "hub-1"))}
    public = ["ca/chain.pem", "ca/crl.pem", "ca/revoked.txt", "site.json"]
    assert files[broker_view(site.path)] == sorted([*public, "broker/broker.crt.pem", "broker/broker.key.pem"])
    for hub_id in ("hub", "hub-1"):
        assert files[hub_view(site.path, hub_id)] == sorted(
            [*public, f"hub/{hub_id}.crt.pem", f"hub/{hub_id}.key.pem", "registry/kiosk-001.json"])
    for view in files:
        assert stat.S_IMODE(view.stat().st_mode) == 0o700
        for path in view.rglob("*.key.pem"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # revocation reaches every view: CRL, revoked list, registry status
    site.revoke("kiosk-001")
    for view in files:
        assert (view / "ca/crl.pem").read_bytes() == site.crl_path.read_bytes()
        assert load_revoked(view) == {"kiosk-001"}
    assert load_registry(hub_view(site.path, "hub"))["kiosk-001"].status is DeviceStatus.REVOKED


def test_hand_over_removes_the_device_secrets_from_the_site(site: Site, tmp_path: Path) -> None:
    bundle = site.enroll("kiosk-001", "kiosk").bundle
    key, link_keys = (bundle / "device.key.pem").read_bytes(), (bundle / "link-keys.json").read_bytes()
    medium = tmp_path / "usb" / "kiosk-001"
    with pytest.raises(EnrollmentError, match="inside the site directory"):
        site.hand_over("kiosk-001", site.path / "elsewhere")
    assert site.hand_over("kiosk-001", medium) == ["device.key.pem", "link-keys.json"]
    assert (medium / "device.key.pem").read_bytes() == key and (medium / "link-keys.json").read_bytes() == link_keys
    assert stat.S_IMODE((medium / "device.key.pem").stat().st_mode) == 0o600
    assert not (bundle / "device.key.pem").exists() and not (bundle / "link-keys.json").exists()
    assert (bundle / "device.crt.pem").exists()
    assert not list(site.path.rglob("device.key.pem"))
    with pytest.raises(ProvisioningError, match="already handed over"):
        site.hand_over("kiosk-001", tmp_path / "again")


def test_site_id_is_validated(tmp_path: Path) -> None:
    """A newline in the site id once reached the broker config and ACL comments: `pattern readwrite #`."""
    for bad in ("x\npattern readwrite #", "x\n", "Ward 7", ""):
        with pytest.raises(SiteError, match="invalid site id"):
            Site.init(tmp_path / "s", TEST_PASSPHRASE, bad, root_passphrase=DEV_ROOT_PASSPHRASE)
