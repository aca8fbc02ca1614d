"""The device's side of enrolment: its TLS key is made on the device and never leaves it.

1. `mch-kiosk enroll-request` / `mch-station enroll-request` (`make_request`): an ECDSA P-256
   key is generated into the device's bundle directory (0600, never replacing one), and a CSR
   (CN = device id) is written beside it and, optionally, onto the technician's USB stick as
   ``<stick>/mch/requests/<device_id>.csr.pem``.
2. The technician: `mch-provision enroll <id> --csr <that file> --usb <stick>` writes the bundle
   without a key to ``<stick>/mch/bundles/<device_id>/``.
3. `enroll-install` (`install_bundle`): the device checks that bundle (its certificate's key is
   the device's own key, CN and config name this device, SHA-256 manifest matches), copies
   it next to its key, reads the copies back, and removes the link keys from the stick.

Shared by the kiosk and the station (they meet only in mch_link).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mch_link.errors import LinkError
from mch_link.privatefile import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, write_atomic
from mch_link.topics import validate_device_id

KEY_FILE = "device.key.pem"
CSR_FILE = "device.csr.pem"
CERT_FILE = "device.crt.pem"
CA_FILE = "ca.pem"
CONFIG_FILE = "config.json"
LINK_KEYS_FILE = "link-keys.json"
MANIFEST_FILE = "manifest.json"
USB_ROOT = "mch"
USB_REQUESTS = "requests"
USB_BUNDLES = "bundles"
PUBLIC_MODE = 0o644
INSTALLED_FILES = ((CERT_FILE, False), (CA_FILE, False), (CONFIG_FILE, False), (LINK_KEYS_FILE, True))


class EnrolmentError(LinkError):
    """A request could not be made, or a returned bundle does not belong to this device."""


def usb_request_path(stick: Path, device_id: str) -> Path:
    return stick / USB_ROOT / USB_REQUESTS / f"{device_id}.csr.pem"


def usb_bundle_dir(stick: Path, device_id: str) -> Path:
    return stick / USB_ROOT / USB_BUNDLES / device_id


def make_request(device_id: str, bundle: Path, *, usb: Path | None = None) -> Path:
    """Generate the device key in `bundle` and write the CSR; returns the CSR written last
    (on the stick when `usb` is given)."""
    try:
        validate_device_id(device_id)
    except LinkError as exc:
        raise EnrolmentError(str(exc)) from None
    key_path = bundle / KEY_FILE
    if os.path.lexists(key_path):
        raise EnrolmentError(f"{key_path} exists: this device already has a key (a new one would orphan its "
                             "certificate); to start over, revoke the device first and remove the file yourself")
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device_id)])).sign(key, hashes.SHA256())
    csr_pem = csr.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    targets = [bundle / CSR_FILE, *([usb_request_path(usb, device_id)] if usb else [])]
    try:
        bundle.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        write_atomic(key_path, key_pem, PRIVATE_FILE_MODE, exclusive=True)
        for path in targets:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, csr_pem, PUBLIC_MODE)
    except OSError as exc:
        raise EnrolmentError(f"cannot write the enrolment request: {exc.filename or ''} {exc.strerror}") from None
    return targets[-1]


def file_digests(directory: Path, names: list[str]) -> dict[str, str]:
    return {n: hashlib.sha256((directory / n).read_bytes()).hexdigest() for n in names if (directory / n).exists()}


def install_bundle(source: Path, bundle: Path) -> list[str]:
    """Copy a bundle issued for this device's CSR from `source` into `bundle` (where the key is).
    Checks everything before writing anything; returns the names installed."""
    key_path = bundle / KEY_FILE
    if source.resolve() == bundle.resolve():
        raise EnrolmentError(f"{source} is the device's own bundle directory; give the issued bundle (--from/--usb)")
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate((source / CERT_FILE).read_bytes())
        config = json.loads((source / CONFIG_FILE).read_text())
        manifest = json.loads((source / MANIFEST_FILE).read_text()) if (source / MANIFEST_FILE).exists() else None
        data = {name: (source / name).read_bytes() for name, _ in INSTALLED_FILES}
    except (OSError, ValueError) as exc:
        raise EnrolmentError(f"cannot install from {source}: {exc}") from None
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    device_id = cn[0].value if cn else None
    own = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    theirs = cert.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    if own != theirs:
        raise EnrolmentError(f"{source / CERT_FILE} was not issued for this device's key ({key_path}): "
                             "wrong bundle, or the request was made again after it was issued")
    if config.get("device_id") != device_id:
        raise EnrolmentError(f"{source / CONFIG_FILE} names {config.get('device_id')!r}, the certificate {device_id!r}")
    if manifest is not None:
        for name, body in data.items():
            if manifest.get(name) != hashlib.sha256(body).hexdigest():
                raise EnrolmentError(f"{source / name} does not match {MANIFEST_FILE}: the copy is damaged; copy again")
    try:
        for name, secret in INSTALLED_FILES:
            write_atomic(bundle / name, data[name], PRIVATE_FILE_MODE if secret else PUBLIC_MODE)
            if (bundle / name).read_bytes() != data[name]:
                raise EnrolmentError(f"{bundle / name} reads back different from what was written; nothing removed")
    except OSError as exc:
        raise EnrolmentError(f"cannot write {exc.filename or bundle}: {exc.strerror}") from None
    _remove_secrets(source)
    return [name for name, _ in INSTALLED_FILES]


def _remove_secrets(source: Path) -> None:
    """The link keys leave the stick once they are on the device."""
    try:
        (source / LINK_KEYS_FILE).unlink(missing_ok=True)
    except OSError as exc:
        raise EnrolmentError(f"installed, but {source / LINK_KEYS_FILE} could not be removed ({exc.strerror}): "
                             "wipe it from the medium by hand") from None
