"""Certificate renewal over the link, the device's side (and the CSR rule the hub applies too).

1. `RenewalClient.ask()`: a fresh ECDSA P-256 key is made on the device into
   ``<bundle>/renew/`` (0600; kept across retries, so every ask is for the same key) and the
   CSR (CN = device id) goes to the hub as the request ``cert.renew``. The hub answers
   ``queued`` until a technician has signed it (the hub holds no CA key: see docs/security.md),
   then ``issued`` with the new certificate.
2. The device checks that certificate (its own new key, its own CN, signed by the site's
   issuing CA in ``ca.pem``), installs certificate and key in the bundle (the old pair kept as
   ``*.old``), and the link reconnects with them (`DeviceLink.reconnect`).
3. Over the new session it tells the hub ``cert.renewed`` with the new serial; only then may
   the technician revoke the old serial (`mch-provision renew --finish` checks the hub's note).

The link (envelope) keys do not change, so records in flight are not affected.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mch_link.errors import LinkError
from mch_link.privatefile import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, write_atomic

RENEW_METHOD = "cert.renew"
RENEWED_METHOD = "cert.renewed"
QUEUED, ISSUED, SWITCHED = "queued", "issued", "switched"
PENDING_DIR = "renew"  # inside the bundle: the new key and its CSR until the certificate arrives
KEY_FILE, CERT_FILE, CA_FILE = "device.key.pem", "device.crt.pem", "ca.pem"
OLD_SUFFIX = ".old"
PUBLIC_MODE = 0o644
MAX_PEM_CHARS = 8192  # a P-256 CSR or certificate is well under 2 KiB

log = logging.getLogger(__name__)


class RenewalError(LinkError):
    """A renewal request or answer is not what this device (or the hub) can accept."""


def csr_public_key(csr_pem: object, device_id: str) -> ec.EllipticCurvePublicKey:
    """The key of a renewal CSR after checking its signature, P-256 key and CN == `device_id`."""
    if not isinstance(csr_pem, str) or len(csr_pem) > MAX_PEM_CHARS:
        raise RenewalError("the CSR must be a PEM text under 8 KiB")
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        valid = csr.is_signature_valid
    except (ValueError, InvalidSignature):
        raise RenewalError("not a PEM certificate signing request with a valid signature") from None
    key = csr.public_key()
    if not valid or not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise RenewalError("the CSR must be signed and carry an ECDSA P-256 key")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1 or names[0].value != device_id:
        raise RenewalError(f"the CSR must name this device ({device_id!r}) as its common name")
    return key


def same_key(a: ec.EllipticCurvePublicKey, b: Any) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return isinstance(b, ec.EllipticCurvePublicKey) and a.public_bytes(*fmt) == b.public_bytes(*fmt)


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


class Caller(Protocol):
    """What renewal needs of mch_link.rpc.RpcClient."""

    def call(self, method: str, args: dict[str, Any], *, idempotency_key: str | None = None,
             timeout_s: float = ...) -> Any: ...


class Reconnector(Protocol):
    """What renewal needs of mch_link.device.DeviceLink."""

    def reconnect(self) -> None: ...
    def wait_connected(self, timeout_s: float) -> bool: ...


@dataclass(frozen=True)
class Outcome:
    status: str  # queued | switched
    serial: str | None = None


class RenewalClient:
    def __init__(self, device_id: str, bundle: Path, rpc: Caller, link: Reconnector,
                 timeout_s: float = 5.0) -> None:
        self.device_id, self.bundle, self.rpc, self.link, self.timeout_s = device_id, Path(bundle), rpc, link, timeout_s

    @property
    def pending(self) -> Path:
        return self.bundle / PENDING_DIR

    def ask(self) -> Outcome:
        """One step: queued (ask again later), or switched to the new certificate and the hub told."""
        key = self._pending_key()
        csr = x509.CertificateSigningRequestBuilder().subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.device_id)])).sign(key, hashes.SHA256())
        csr_pem = csr.public_bytes(serialization.Encoding.PEM).decode()
        answer = self.rpc.call(RENEW_METHOD, {"csr": csr_pem}, timeout_s=self.timeout_s)
        if not isinstance(answer, dict) or answer.get("status") not in (QUEUED, ISSUED):
            raise RenewalError(f"unexpected answer to {RENEW_METHOD}: {answer!r}"[:200])
        if answer["status"] == QUEUED:
            return Outcome(QUEUED)
        cert = self._check(str(answer.get("cert", "")), key)
        self._install(cert, key)
        self.link.reconnect()
        if not self.link.wait_connected(self.timeout_s * 4):
            raise RenewalError("the broker did not accept the new certificate (the old one is kept as *.old)")
        serial = serial_hex(cert)
        self.rpc.call(RENEWED_METHOD, {"serial": serial}, timeout_s=self.timeout_s)
        return Outcome(SWITCHED, serial)

    def _pending_key(self) -> ec.EllipticCurvePrivateKey:
        path = self.pending / KEY_FILE
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise RenewalError(f"{path} is not an ECDSA key")
            return key
        key = ec.generate_private_key(ec.SECP256R1())
        self.pending.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
        write_atomic(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()), PRIVATE_FILE_MODE, exclusive=True)
        return key

    def _check(self, cert_pem: str, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
        try:
            cert = x509.load_pem_x509_certificate(cert_pem.encode())
        except ValueError:
            raise RenewalError("the hub's answer holds no PEM certificate") from None
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if not same_key(key.public_key(), cert.public_key()) or len(names) != 1 or names[0].value != self.device_id:
            raise RenewalError("the certificate is not for this device's new key")
        if not any(_signed_by(cert, ca) for ca in x509.load_pem_x509_certificates((self.bundle / CA_FILE).read_bytes())):
            raise RenewalError("the certificate is not signed by the site's CA in ca.pem")
        return cert

    def _install(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        """Old pair to *.old, new pair in place (each file replaced atomically), pending removed."""
        for name, mode in ((CERT_FILE, PUBLIC_MODE), (KEY_FILE, PRIVATE_FILE_MODE)):
            current = self.bundle / name
            if current.exists():
                write_atomic(current.with_name(name + OLD_SUFFIX), current.read_bytes(), mode)
        write_atomic(self.bundle / KEY_FILE, (self.pending / KEY_FILE).read_bytes(), PRIVATE_FILE_MODE)
        write_atomic(self.bundle / CERT_FILE, cert.public_bytes(serialization.Encoding.PEM), PUBLIC_MODE)
        os.unlink(self.pending / KEY_FILE)


def _signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False



RENEW_COMMAND = "renew"  # the dashboard's cmd/1 (central_hub.commands): start a renewal


class RenewalRunner:
    """Carries out the hub's ``renew`` command: asks in a thread of its own (the command arrives on
    the MQTT network thread, which must not wait for an answer), again every `retry_s` while the
    request is queued, until switched or stopped. Pass `on_command` to DeviceLink (or call it from
    the application's own command handler)."""

    def __init__(self, client: RenewalClient, retry_s: float = 600.0) -> None:
        self.client, self.retry_s = client, retry_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.outcome: Outcome | None = None
        self.error: str | None = None

    def on_command(self, command: str, args: dict[str, Any]) -> tuple[str, str]:
        if command != RENEW_COMMAND:
            return "refused", f"{command} is not supported by this device"
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return "done", "a renewal is already under way"
            self._thread = threading.Thread(target=self._run, name="cert-renewal", daemon=True)
            self._thread.start()
        return "done", "renewal requested"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.outcome = self.client.ask()
                self.error = None
            except (LinkError, OSError, ValueError) as exc:  # hub away, refused, bad answer or file: later
                self.error = str(exc)
                log.warning("%s: renewal attempt failed: %s", self.client.device_id, exc)
            if self.outcome is not None and self.outcome.status == SWITCHED:
                return
            self._stop.wait(self.retry_s)

    def wait(self, timeout_s: float) -> bool:
        """True once the renewal thread has finished (switched or stopped)."""
        thread = self._thread
        if thread is None:
            return False
        thread.join(timeout_s)
        return not thread.is_alive()

    def stop(self) -> None:
        self._stop.set()


def runner_for(link: Any, bundle: Path, rpc: Caller | None = None, retry_s: float = 600.0) -> RenewalRunner:
    """A renewal runner over a DeviceLink whose certificate lives in `bundle`; `rpc`: the
    application's RpcClient on that link if it has one (a second would take its responses)."""
    if rpc is None:
        from mch_link.rpc import RpcClient  # only a device without request/response makes one here

        rpc = RpcClient(link, link.config.device_id, link.keys)
    return RenewalRunner(RenewalClient(link.config.device_id, bundle, rpc, link), retry_s)
