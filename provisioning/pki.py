"""X.509 building blocks over `cryptography`: keys, CA certificates, leaf certificates, CSRs, CRLs.

Everything is ECDSA P-256 with SHA-256 (mbedTLS on the bridges has no Ed25519 for TLS).
Pure functions over objects and PEM bytes; the site layout and files live in `site.py`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provisioning.errors import EnrollmentError, PassphraseError, ProvisioningError

CURVE = ec.SECP256R1()
HASH = hashes.SHA256()
BACKDATE = timedelta(minutes=5)  # tolerate small clock skew between laptop, broker and devices

ROOT_VALIDITY = timedelta(days=3650)
ISSUING_VALIDITY = timedelta(days=1825)
BROKER_VALIDITY = timedelta(days=825)
HUB_VALIDITY = timedelta(days=825)
DEVICE_VALIDITY = timedelta(days=365)
CRL_VALIDITY = timedelta(days=30)

PrivateKey = ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Issuer:
    """A CA that signs: its certificate, its (decrypted, in memory only) key, and the HTTP URL its
    CRL is published at (`CRL_URL_FILE`), named in every certificate and CRL it signs when set."""

    cert: x509.Certificate
    key: PrivateKey
    crl_url: str | None = None


# The CRL Distribution Point: a clustered broker (EMQX) fetches each client certificate's CRL from
# it instead of being handed crl.pem; mosquitto ignores it. Plain http (RFC 5280 §4.2.1.13: the
# CRL is signed, and fetching it must not need TLS, which needs the CRL).
CRL_URL_FILE = "ca/crl-url.txt"
CRL_URL_RE = re.compile(r"http://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?")


def validate_crl_url(url: str) -> str:
    if not isinstance(url, str) or not CRL_URL_RE.fullmatch(url):
        raise ProvisioningError(f"CRL URL {url!r}: want http://HOST[:PORT]/PATH (letters, digits, ._~-/ only), "
                                "e.g. http://pki.county-mch.example/crl.der")
    return url


def read_crl_url(site_dir: Path) -> str | None:
    """The site's CRL URL, or None when none is configured."""
    path = Path(site_dir) / CRL_URL_FILE
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ProvisioningError(f"cannot read {path}: {exc.strerror}") from None
    return validate_crl_url(text) if text else None


def _crl_uri(url: str) -> list[x509.GeneralName]:
    return [x509.UniformResourceIdentifier(url)]


def now_utc() -> datetime:
    return datetime.now(UTC)


def new_key() -> PrivateKey:
    return ec.generate_private_key(CURVE)


def key_to_pem(key: PrivateKey, passphrase: bytes | None = None) -> bytes:
    if passphrase is None:
        encryption: serialization.KeySerializationEncryption = serialization.NoEncryption()
    else:
        # PKCS#8 PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), as OpenSSL writes it
        encryption = serialization.BestAvailableEncryption(passphrase)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def key_from_pem(data: bytes, source: str, passphrase: bytes | None = None) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError:
        raise PassphraseError(f"{source}: key is encrypted, a passphrase is needed") from None
    except ValueError:
        if passphrase is not None:
            raise PassphraseError(f"{source}: wrong site passphrase (the key did not decrypt)") from None
        raise ProvisioningError(f"{source}: not a PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ProvisioningError(f"{source}: expected an ECDSA P-256 key")
    return key


def cert_to_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def cert_from_pem(data: bytes, source: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise ProvisioningError(f"{source}: not a PEM certificate ({exc})") from None


def _name(common_name: str, site_id: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"mch site {site_id}"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def common_name(cert: x509.Certificate | x509.CertificateSigningRequest) -> str:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else ""


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey,
             validity: timedelta, now: datetime) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + validity)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                         encipher_only=False, decipher_only=False)


def _leaf_usage() -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                         encipher_only=False, decipher_only=False)


def make_root(site_id: str, key: PrivateKey, now: datetime | None = None) -> x509.Certificate:
    now = now or now_utc()
    name = _name(f"mch {site_id} root CA", site_id)
    builder = (
        _builder(name, name, key.public_key(), ROOT_VALIDITY, now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_ca_usage(), critical=True)
    )
    return builder.sign(key, HASH)


def make_issuing(site_id: str, key: PrivateKey, root: Issuer, now: datetime | None = None) -> x509.Certificate:
    now = now or now_utc()
    builder = (
        _builder(_name(f"mch {site_id} issuing CA", site_id), root.cert.subject, key.public_key(),
                 ISSUING_VALIDITY, now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(_aki(root), critical=False)
    )
    return builder.sign(root.key, HASH)


def _aki(issuer: Issuer) -> x509.AuthorityKeyIdentifier:
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key())


def issue_leaf(cn: str, public_key: ec.EllipticCurvePublicKey, issuer: Issuer, *, server: bool,
               validity: timedelta, site_id: str, hosts: tuple[str, ...] = (),
               now: datetime | None = None) -> x509.Certificate:
    """A TLS leaf: clientAuth for devices and hub workers, serverAuth + SAN for the broker."""
    now = now or now_utc()
    eku = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        _builder(_name(cn, site_id), issuer.cert.subject, public_key, validity, now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        .add_extension(_aki(issuer), critical=False)
    )
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
    if issuer.crl_url:
        builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            full_name=_crl_uri(issuer.crl_url), relative_name=None, reasons=None, crl_issuer=None)]), critical=False)
    return builder.sign(issuer.key, HASH)


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def make_csr(cn: str, key: PrivateKey) -> bytes:
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])).sign(key, HASH)
    return csr.public_bytes(serialization.Encoding.PEM)


def check_csr(data: bytes, device_id: str, source: str) -> ec.EllipticCurvePublicKey:
    """The public key of a device's CSR, after checking signature, key type and CN."""
    try:
        csr = x509.load_pem_x509_csr(data)
    except ValueError as exc:
        raise EnrollmentError(f"{source}: not a PEM certificate signing request ({exc})") from None
    try:
        valid = csr.is_signature_valid
    except InvalidSignature:
        valid = False
    if not valid:
        raise EnrollmentError(f"{source}: CSR signature does not verify")
    key = csr.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != CURVE.name:
        raise EnrollmentError(f"{source}: CSR key must be ECDSA P-256 (secp256r1)")
    cn = common_name(csr)
    if cn != device_id:
        raise EnrollmentError(f"{source}: CSR common name is {cn!r}, expected the device id {device_id!r}")
    return key


def build_crl(issuer: Issuer, revoked: dict[int, datetime], number: int, last_update: datetime,
              validity: timedelta = CRL_VALIDITY) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(last_update)
        .next_update(last_update + validity)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(_aki(issuer), critical=False)
    )
    if issuer.crl_url:  # EMQX checks that the CRL says where it is from (RFC 5280 §5.2.5: critical)
        builder = builder.add_extension(x509.IssuingDistributionPoint(
            full_name=_crl_uri(issuer.crl_url), relative_name=None, only_contains_user_certs=False,
            only_contains_ca_certs=False, only_some_reasons=None, indirect_crl=False,
            only_contains_attribute_certs=False), critical=True)
    for serial, when in sorted(revoked.items()):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
    return builder.sign(issuer.key, HASH)


def crl_from_pem(data: bytes, source: str) -> x509.CertificateRevocationList:
    try:
        return x509.load_pem_x509_crl(data)
    except ValueError as exc:
        raise ProvisioningError(f"{source}: not a PEM CRL ({exc})") from None


def crl_to_pem(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.PEM)


def crl_number(crl: x509.CertificateRevocationList) -> int:
    try:
        return int(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
    except x509.ExtensionNotFound:
        return 0


def crl_entries(crl: x509.CertificateRevocationList) -> dict[int, datetime]:
    return {r.serial_number: r.revocation_date_utc for r in crl}
