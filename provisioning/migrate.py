"""Bring a site made by an earlier release to the current layout (idempotent).

- CA keys: PKCS#8 ``ca/{root,issuing}.key.pem`` under one passphrase at 2,048 PBKDF2 rounds ->
  ``ca/{root,issuing}.key.json`` (scrypt + AES-256-GCM); the root key under its own passphrase.
- ``ca/revoked.txt`` (the broker disconnects these identities) from the registry and the hub
  identities no longer in site.json.
- the deploy views for the broker and each hub worker.
"""

from __future__ import annotations

from pathlib import Path

from mch_link import registry
from mch_link.registry import DeviceStatus
from mch_link.sitefiles import format_revoked, revoked_path
from provisioning import cakey, pki, views
from provisioning.errors import PassphraseError
from provisioning.files import read_bytes, write_public, write_secret
from provisioning.site import ISSUING_KEY, ROOT_KEY, Site

LEGACY_KEYS = (("root.key.pem", ROOT_KEY, "root"), ("issuing.key.pem", ISSUING_KEY, "issuing"))


def migrate(site_dir: Path, passphrase: bytes, root_passphrase: bytes | None) -> list[str]:
    """Returns what was done, one line each (empty when the site was current)."""
    site = Site.open(site_dir, passphrase)
    done: list[str] = []
    for legacy, current, name in LEGACY_KEYS:
        old = site.ca_dir / legacy
        if not old.exists():
            continue
        if name == "root" and root_passphrase is None:
            raise PassphraseError("the root CA key is re-encrypted under its own passphrase: give "
                                  "--root-passphrase-file (or $MCH_CA_ROOT_PASSPHRASE)")
        if name == "root" and root_passphrase == passphrase:
            raise PassphraseError("the root CA passphrase must differ from the site (issuing CA) passphrase")
        key = pki.key_from_pem(read_bytes(old, f"{name} CA key"), str(old), passphrase)
        new_passphrase = root_passphrase if name == "root" and root_passphrase else passphrase
        write_secret(site.ca_dir / current, cakey.protect(key, new_passphrase), exclusive=True)
        old.unlink()
        done.append(f"{legacy} -> {current} (scrypt n={cakey.PRODUCTION_COST.n}, AES-256-GCM)")
    if not revoked_path(site.path).exists():
        names = {e.device_id for e in site.devices() if e.status is DeviceStatus.REVOKED}
        names |= {p.name.removesuffix(".crt.pem") for p in (site.path / registry.HUB_DIR).glob("*.crt.pem")
                  if p.name.removesuffix(".crt.pem") not in site.info.hub_ids}
        write_public(revoked_path(site.path), format_revoked(names).encode())
        done.append(f"{revoked_path(site.path).name}: {len(names)} revoked identities")
    for view in views.export_all(site.path, site.info.hub_ids):
        done.append(f"view {view}")
    return done
