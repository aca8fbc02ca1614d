"""The device bundle: what a technician copies onto a device.

    device.crt.pem     the device certificate (CN = device id, clientAuth)
    device.key.pem     its private key (0600), absent when the device made its own CSR
    device.csr.pem     the CSR the certificate was issued from
    ca.pem             issuing + root CA: to verify the broker
    link-keys.json     envelope keys (0600)
    config.json        device id, kind, site id, broker host/port
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mch_link.keys import KEYS_FILE, LinkKeys
from provisioning.errors import ProvisioningError
from provisioning.files import make_dir, read_bytes, write_public, write_secret

CERT_FILE = "device.crt.pem"
KEY_FILE = "device.key.pem"
CSR_FILE = "device.csr.pem"
CA_FILE = "ca.pem"
CONFIG_FILE = "config.json"
LINK_KEYS_FILE = KEYS_FILE


def write_bundle(bundle: Path, *, cert_pem: bytes, key_pem: bytes | None, csr_pem: bytes, chain_pem: bytes,
                 keys: LinkKeys, config: dict[str, Any]) -> Path:
    if key_pem is not None:
        write_secret(bundle / KEY_FILE, key_pem, exclusive=True)
    write_public(bundle / CSR_FILE, csr_pem)
    write_public(bundle / CERT_FILE, cert_pem)
    write_public(bundle / CA_FILE, chain_pem)
    write_secret(bundle / LINK_KEYS_FILE, keys.to_json().encode())
    write_public(bundle / CONFIG_FILE, json.dumps(config, indent=2).encode())
    return bundle


SECRET_FILES = (KEY_FILE, LINK_KEYS_FILE)
PUBLIC_FILES = (CERT_FILE, CSR_FILE, CA_FILE, CONFIG_FILE)


def hand_over(bundle: Path, dest: Path) -> list[str]:
    """Copy `bundle` to `dest` (the device, a USB stick), check the copy, then delete the device's
    secrets (TLS key, link keys) from `bundle`. Returns the names of the secrets removed."""
    present = [n for n in SECRET_FILES if (bundle / n).exists()]
    if not present:
        raise ProvisioningError(f"{bundle} holds no device secret: already handed over?")
    make_dir(dest, secret=True)
    for name in (*PUBLIC_FILES, *present):
        src = bundle / name
        if not src.exists():
            continue
        data = read_bytes(src, "bundle file")
        (write_secret if name in SECRET_FILES else write_public)(dest / name, data, exclusive=name in SECRET_FILES)
        if read_bytes(dest / name, "copied bundle file") != data:
            raise ProvisioningError(f"copy of {src} to {dest} differs; nothing removed")
    for name in present:
        (bundle / name).unlink()
    return present
