"""Certificate renewal before expiry, in two steps, so a device is never without a valid one.

1. `renew(site, device_id, csr_pem)`: a new certificate for the same device id from the
   device's fresh CSR (`mch-kiosk enroll-request` into a new bundle directory, or the same
   key's CSR again); the registry gets the new serial and expiry, the old serial is kept in
   ``<site>/renewals/<device_id>.json``. Both certificates are valid: the device switches when
   it is ready. Link (envelope) keys are unchanged, so no record in flight is lost.
2. `finish(site, device_id)`: after the device has switched, the old certificate goes on the
   CRL (by serial only: the device's name is not added to the revoked list, so the broker
   keeps accepting its new certificate). Then `mch-broker reload`.

Over the link (the device asks, central_hub.renewal queues its CSR in the hub's view):
`sign_queued(site, hub_id)` signs every queued request with the issuing key here, on the
technician's laptop, and writes the certificates back into the view; `finish` then requires
the hub's note that the device has switched (``<view>/renewals/<id>.switched.json``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from mch_link import registry
from mch_link.registry import DeviceStatus
from mch_link.sitefiles import hub_view
from provisioning import pki, views
from provisioning.errors import EnrollmentError, ProvisioningError
from provisioning.files import make_dir, write_secret
from provisioning.site import Site

RENEWALS_DIR = "renewals"
# the hub's queue in its view (central_hub.renewal writes the CSR and the switch note)
CSR_SUFFIX, CERT_SUFFIX, SWITCHED_SUFFIX = ".csr.pem", ".crt.pem", ".switched.json"


def _pending_path(site: Site, device_id: str) -> Path:
    return site.path / RENEWALS_DIR / f"{device_id}.json"


def renew(site: Site, device_id: str, csr_pem: bytes, validity: timedelta = pki.DEVICE_VALIDITY) -> bytes:
    """Issue the new certificate (PEM, returned) and record the old serial for `finish`."""
    entry = site.device(device_id)
    if entry.status is not DeviceStatus.ACTIVE:
        raise EnrollmentError(f"{device_id} is {entry.status.value}; only an active device is renewed")
    pending = _pending_path(site, device_id)
    if pending.exists():
        raise EnrollmentError(f"{device_id} has a renewal waiting ({pending}): once the device uses its new "
                              f"certificate, run mch-provision renew --finish {device_id}")
    public_key = pki.check_csr(csr_pem, device_id, f"{device_id} renewal CSR")
    cert = pki.issue_leaf(device_id, public_key, site.issuer(), server=False, validity=validity,
                          site_id=site.info.site_id)
    make_dir(site.path / RENEWALS_DIR, secret=True)
    write_secret(pending, json.dumps({"device_id": device_id, "old_serial": entry.cert_serial,
                                      "new_serial": pki.serial_hex(cert)}).encode(), exclusive=True)
    updated = replace(entry, cert_serial=pki.serial_hex(cert), not_after=cert.not_valid_after_utc)
    registry.write_entry(site.path, updated)
    views.write_entry(site.path, site.info.hub_ids, updated)
    return pki.cert_to_pem(cert)


def _queue(site: Site, hub_id: str) -> Path:
    return hub_view(site.path, hub_id) / RENEWALS_DIR


@dataclass(frozen=True)
class Signed:
    signed: list[str]  # device ids whose certificate now waits in every hub view's queue
    refused: dict[str, str]  # device id -> why its request was not signed (the rest still were)


def sign_queued(site: Site, hub_ids: Sequence[str] | None = None,
                validity: timedelta = pki.DEVICE_VALIDITY) -> Signed:
    """Sign the renewal CSRs devices sent over the link, queued in the hub views (every hub's by
    default: any worker may have taken the request); the certificate goes into each of those
    queues, whichever worker the device asks next, and the old serial is kept for `finish`."""
    hubs = list(hub_ids or site.info.hub_ids)
    newest: dict[str, Path] = {}
    for hub_id in hubs:
        for path in _queue(site, hub_id).glob(f"*{CSR_SUFFIX}"):
            device_id = path.name[:-len(CSR_SUFFIX)]
            if device_id not in newest or path.stat().st_mtime_ns > newest[device_id].stat().st_mtime_ns:
                newest[device_id] = path
    result = Signed([], {})
    for device_id, csr_path in sorted(newest.items()):
        try:
            cert = renew(site, device_id, csr_path.read_bytes(), validity)
        except ProvisioningError as exc:
            result.refused[device_id] = str(exc)
            continue
        for hub_id in hubs:
            queue = _queue(site, hub_id)
            if queue.is_dir():
                write_secret(queue / f"{device_id}{CERT_SUFFIX}", cert)
                (queue / f"{device_id}{CSR_SUFFIX}").unlink(missing_ok=True)
        result.signed.append(device_id)
    return result


def _switched(site: Site, device_id: str, new_serial: str) -> bool:
    for hub_id in site.info.hub_ids:
        note = _queue(site, hub_id) / f"{device_id}{SWITCHED_SUFFIX}"
        try:
            if json.loads(note.read_bytes()).get("serial") == new_serial:
                return True
        except (OSError, ValueError, AttributeError):
            continue
    return False


def finish(site: Site, device_id: str, *, force: bool = False) -> str:
    """Revoke the superseded certificate (CRL only); returns its serial. A renewal over the link
    is finished only once the hub has noted the device's switch (`force` skips that check, for a
    renewal made with --csr, where the technician saw the switch)."""
    pending = _pending_path(site, device_id)
    try:
        record = json.loads(pending.read_bytes())
        old_serial, new_serial = str(record["old_serial"]), str(record["new_serial"])
    except FileNotFoundError:
        raise EnrollmentError(f"{device_id} has no renewal waiting; start one with mch-provision renew") from None
    except (OSError, ValueError, KeyError) as exc:
        raise EnrollmentError(f"{pending} is unreadable ({exc}); restore it from the site backup") from None
    over_link = any((_queue(site, h) / f"{device_id}{CERT_SUFFIX}").exists() for h in site.info.hub_ids)
    if over_link and not force and not _switched(site, device_id, new_serial):
        raise EnrollmentError(f"{device_id} has not switched to certificate {new_serial} yet (no note from the hub "
                              f"in deploy/<hub>/{RENEWALS_DIR}/; copy the hub's view back, or wait for the device)")
    site._add_to_crl(int(old_serial, 16), pki.now_utc())  # the CRL half of Site.revoke, without the name
    views.sync_public(site.path, site.info.hub_ids)
    pending.unlink()
    for hub_id in site.info.hub_ids:
        for suffix in (CERT_SUFFIX, SWITCHED_SUFFIX):
            (_queue(site, hub_id) / f"{device_id}{suffix}").unlink(missing_ok=True)
    return old_serial

