"""The hub's renewal desk: it queues only a CSR for the device that asked, hands back only a
certificate for the key asked with, and notes a switch only to the certificate it handed out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from central_hub.renewal import CERT_SUFFIX, CSR_SUFFIX, SWITCHED_SUFFIX, RenewalDesk, renewals_dir

DEVICE = "kiosk-007"


def _csr(cn: str, key: ec.EllipticCurvePrivateKey) -> str:
    return x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])).sign(key, hashes.SHA256()).public_bytes(
        serialization.Encoding.PEM).decode()


def _cert(cn: str, public_key: ec.EllipticCurvePublicKey) -> x509.Certificate:
    ca = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + timedelta(days=1)).sign(ca, hashes.SHA256()))


def test_queues_then_issues_for_the_same_key_only(tmp_path: Path) -> None:
    desk = RenewalDesk(tmp_path)
    key = ec.generate_private_key(ec.SECP256R1())
    assert desk.renew(DEVICE, {"csr": _csr(DEVICE, key)}) == (True, {"status": "queued"})
    queued = renewals_dir(tmp_path) / f"{DEVICE}{CSR_SUFFIX}"
    assert "BEGIN CERTIFICATE REQUEST" in queued.read_text()
    assert oct(queued.stat().st_mode)[-3:] == "600"
    cert = _cert(DEVICE, key.public_key())
    (renewals_dir(tmp_path) / f"{DEVICE}{CERT_SUFFIX}").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    ok, answer = desk.renew(DEVICE, {"csr": _csr(DEVICE, key)})
    assert ok and answer["status"] == "issued"
    assert x509.load_pem_x509_certificate(answer["cert"].encode()).serial_number == cert.serial_number
    other = ec.generate_private_key(ec.SECP256R1())  # someone else's key: no certificate for it
    assert desk.renew(DEVICE, {"csr": _csr(DEVICE, other)}) == (True, {"status": "queued"})


def test_a_csr_for_another_device_or_garbage_is_refused_and_nothing_queued(tmp_path: Path) -> None:
    desk = RenewalDesk(tmp_path)
    key = ec.generate_private_key(ec.SECP256R1())
    for args in ({"csr": _csr("kiosk-008", key)}, {"csr": "not a csr"}, {}, {"csr": "x" * 10_000}):
        ok, answer = desk.renew(DEVICE, args)
        assert not ok and answer["code"] == "bad-csr"
    assert not renewals_dir(tmp_path).exists()


def test_switch_noted_only_for_the_certificate_handed_out(tmp_path: Path) -> None:
    desk = RenewalDesk(tmp_path, clock=lambda: 1000.0)
    assert desk.renewed(DEVICE, {"serial": "abc"})[0] is False  # nothing issued
    key = ec.generate_private_key(ec.SECP256R1())
    desk.renew(DEVICE, {"csr": _csr(DEVICE, key)})
    cert = _cert(DEVICE, key.public_key())
    (renewals_dir(tmp_path) / f"{DEVICE}{CERT_SUFFIX}").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    ok, answer = desk.renewed(DEVICE, {"serial": "1"})
    assert not ok and answer["code"] == "unknown-serial"
    assert not (renewals_dir(tmp_path) / f"{DEVICE}{SWITCHED_SUFFIX}").exists()
    assert desk.renewed(DEVICE, {"serial": format(cert.serial_number, "x")}) == (True, {"status": "switched"})
    assert (renewals_dir(tmp_path) / f"{DEVICE}{SWITCHED_SUFFIX}").is_file()
