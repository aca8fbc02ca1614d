"""Site files that provisioning writes and the broker reads: the site id rule, the revoked list.

``ca/revoked.txt`` names every revoked identity (device id or hub identity), one per line,
next to the CRL that revokes their certificates. The CRL names serials only; the broker needs
the names to disconnect a revoked client that is still connected, and must not be given the
registry (it holds every device's link keys) to learn them.
"""

from __future__ import annotations

import re
from pathlib import Path

from mch_link.errors import LinkError

SITE_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
REVOKED_FILE = "ca/revoked.txt"
IDENTITY_RE = re.compile(r"[a-z][a-z0-9-]{1,31}")


class SiteFileError(LinkError):
    """A site id or a site file does not have the expected form."""


def validate_site_id(site_id: str) -> str:
    """Lowercase letters, digits and '-': it is rendered into broker config comments and names."""
    if not isinstance(site_id, str) or not SITE_ID_RE.fullmatch(site_id):
        raise SiteFileError(f"invalid site id {site_id!r}: want {SITE_ID_RE.pattern} (e.g. county-mch-1)")
    return site_id


def revoked_path(site_dir: Path | str) -> Path:
    return Path(site_dir) / REVOKED_FILE


def format_revoked(names: set[str]) -> str:
    for name in names:
        if not IDENTITY_RE.fullmatch(name):
            raise SiteFileError(f"revoked identity {name!r} is not a device id or hub identity")
    return "".join(f"{name}\n" for name in sorted(names))


def load_revoked(site_dir: Path | str) -> frozenset[str]:
    """The revoked identities of a site; a missing file is an error (fail closed, never 'none')."""
    path = revoked_path(site_dir)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SiteFileError(f"cannot read {path}: {exc.strerror} (a site from before this file: "
                            "run `mch-provision migrate` on it)") from None
    names = frozenset(line.strip() for line in text.splitlines() if line.strip())
    for name in names:
        if not IDENTITY_RE.fullmatch(name):
            raise SiteFileError(f"{path}: {name!r} is not a device id or hub identity")
    return names


# --- deploy views: what each server gets instead of the whole site directory ----------------
# Same relative layout as the site (site.json, ca/, broker/ or hub/, registry/), so the broker
# and the hub read a view exactly as they read a site. Provisioning keeps them current.
DEPLOY_DIR = "deploy"
BROKER_VIEW = "broker"
CA_KEY_GLOBS = ("ca/*.key.pem", "ca/*.key.json")


def broker_view(site_dir: Path | str) -> Path:
    return Path(site_dir) / DEPLOY_DIR / BROKER_VIEW


def hub_view(site_dir: Path | str, hub_id: str) -> Path:
    return Path(site_dir) / DEPLOY_DIR / hub_id


def ca_keys_in(directory: Path | str) -> list[Path]:
    """CA private keys found in `directory` (a server must never be given these)."""
    return sorted(p for pattern in CA_KEY_GLOBS for p in Path(directory).glob(pattern))
