"""Certificate renewal over the link, the hub's side: a desk, not a CA.

The hub holds no CA key (issue 10: a server gets only its own identity, the chain, the CRL and
the registry). A device's ``cert.renew`` request (CSR made on the device, checked here: signed,
P-256, CN = the device the envelope authenticated) is queued as a file in the hub's view,
``<view>/renewals/<device>.csr.pem``. The technician signs the queue with the issuing key on
the laptop (`mch-provision renew --from-hub`), which writes ``<device>.crt.pem`` beside it (the
view travels both ways, like the journal). The device's next ``cert.renew`` with the same key
gets that certificate; once reconnected with it, ``cert.renewed`` leaves
``<device>.switched.json``, which `mch-provision renew --finish` requires before it puts the
old serial on the CRL.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from central_hub.services.dispatcher import Answer, Dispatcher
from mch_link import renewal
from mch_link.privatefile import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, write_atomic

log = logging.getLogger(__name__)

RENEWALS_DIR = "renewals"
CSR_SUFFIX, CERT_SUFFIX, SWITCHED_SUFFIX = ".csr.pem", ".crt.pem", ".switched.json"


def renewals_dir(site_dir: Path) -> Path:
    return Path(site_dir) / RENEWALS_DIR


class RenewalDesk:
    def __init__(self, site_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self.dir, self.clock = renewals_dir(site_dir), clock

    def _path(self, device_id: str, suffix: str) -> Path:
        return self.dir / f"{device_id}{suffix}"

    def _signed(self, device_id: str) -> x509.Certificate | None:
        path = self._path(device_id, CERT_SUFFIX)
        try:
            return x509.load_pem_x509_certificate(path.read_bytes())
        except FileNotFoundError:
            return None
        except ValueError:
            log.error("%s: %s is not a PEM certificate; the device's renewal stays queued", device_id, path)
            return None

    def renew(self, device_id: str, args: dict[str, Any]) -> Answer:
        try:
            key = renewal.csr_public_key(args.get("csr"), device_id)
        except renewal.RenewalError as exc:
            return False, {"code": "bad-csr", "message": str(exc)}
        cert = self._signed(device_id)
        if cert is not None and renewal.same_key(key, cert.public_key()):
            log.info("%s: renewal answered with certificate %s", device_id, renewal.serial_hex(cert))
            return True, {"status": renewal.ISSUED, "cert": cert.public_bytes(serialization.Encoding.PEM).decode()}
        self.dir.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
        path = self._path(device_id, CSR_SUFFIX)
        csr = str(args["csr"]).encode()
        if not path.exists() or path.read_bytes() != csr:  # a new key replaces an older unsigned request
            write_atomic(path, csr, PRIVATE_FILE_MODE)
            log.info("%s: renewal queued for a technician (%s)", device_id, path)
        return True, {"status": renewal.QUEUED}

    def renewed(self, device_id: str, args: dict[str, Any]) -> Answer:
        cert = self._signed(device_id)
        if cert is None or args.get("serial") != renewal.serial_hex(cert):
            return False, {"code": "unknown-serial", "message": "no certificate with this serial was issued here"}
        note = {"device_id": device_id, "serial": renewal.serial_hex(cert), "at_ms": int(self.clock() * 1000)}
        write_atomic(self._path(device_id, SWITCHED_SUFFIX), json.dumps(note).encode(), PRIVATE_FILE_MODE)
        log.info("%s: switched to certificate %s", device_id, note["serial"])
        return True, {"status": renewal.SWITCHED}


class RenewingDispatcher(Dispatcher):
    """The services' dispatcher with the renewal methods, which need the authenticated device id."""

    def __init__(self, *args: Any, desk: RenewalDesk, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.desk = desk

    def handle(self, device_id: str, method_name: str, args: dict[str, Any], idem: str | None) -> Answer:
        if method_name == renewal.RENEW_METHOD:
            return self.desk.renew(device_id, args)
        if method_name == renewal.RENEWED_METHOD:
            return self.desk.renewed(device_id, args)
        return super().handle(device_id, method_name, args, idem)
