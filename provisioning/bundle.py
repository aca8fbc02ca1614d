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
from provisioning.files import write_public, write_secret

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
