"""The technician's USB stick: device requests in, bundles out (layout in mch_link.enrolment).

    <stick>/mch/requests/<device_id>.csr.pem   written by `mch-kiosk|mch-station enroll-request --usb`
    <stick>/mch/bundles/<device_id>/           written by `mch-provision enroll --usb`, with
                                               manifest.json: the SHA-256 of every file
"""

from __future__ import annotations

import json
from pathlib import Path

from mch_link.enrolment import MANIFEST_FILE, file_digests, usb_bundle_dir, usb_request_path
from provisioning.bundle import PUBLIC_FILES, SECRET_FILES
from provisioning.files import write_public


def bundle_dir(stick: Path, device_id: str) -> Path:
    return usb_bundle_dir(stick, device_id)


def request_on_stick(stick: Path, device_id: str) -> Path | None:
    """The device's CSR on the stick, if it left one there."""
    path = usb_request_path(stick, device_id)
    return path if path.is_file() else None


def write_manifest(bundle: Path) -> Path:
    """SHA-256 of every bundle file, so the device can tell a damaged copy from a good one."""
    digests = file_digests(bundle, [*PUBLIC_FILES, *SECRET_FILES])
    return write_public(bundle / MANIFEST_FILE, json.dumps(digests, indent=2, sort_keys=True).encode())
