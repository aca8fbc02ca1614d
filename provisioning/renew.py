"""Certificate renewal before expiry, in two steps, so a device is never without a valid one.

1. `renew(site, device_id, csr_pem)`: a new certificate for the same device id from the
   device's fresh CSR (`mch-kiosk enroll-request` into a new bundle directory, or the same
   key's CSR again); the registry gets the new serial and expiry, the old serial is kept in
   ``<site>/renewals/<device_id>.json``. Both certificates are valid: the device switches when
   it is ready. Link (envelope) keys are unchanged, so no record in flight is lost.
2. `finish(site, device_id)`: after the device has switched, the old certificate goes on the
   CRL (by serial only: the device's name is not added to the revoked list, so the broker
   keeps accepting its new certificate). Then `mch-broker reload`.

Not the renewal over the link (the device asking the hub): that needs the hub's side.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from mch_link import registry
from mch_link.registry import DeviceStatus
from provisioning import pki, views
from provisioning.errors import EnrollmentError
from provisioning.files import make_dir, write_secret
from provisioning.site import Site

RENEWALS_DIR = "renewals"


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


def finish(site: Site, device_id: str) -> str:
    """Revoke the superseded certificate (CRL only); returns its serial."""
    pending = _pending_path(site, device_id)
    try:
        old_serial = str(json.loads(pending.read_bytes())["old_serial"])
    except FileNotFoundError:
        raise EnrollmentError(f"{device_id} has no renewal waiting; start one with mch-provision renew") from None
    except (OSError, ValueError, KeyError) as exc:
        raise EnrollmentError(f"{pending} is unreadable ({exc}); restore it from the site backup") from None
    site._add_to_crl(int(old_serial, 16), pki.now_utc())  # the CRL half of Site.revoke, without the name
    views.sync_public(site.path, site.info.hub_ids)
    pending.unlink()
    return old_serial

