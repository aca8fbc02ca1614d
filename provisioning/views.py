"""Deploy views: the part of the site each server needs, kept current by every site change.

    <site>/deploy/broker/     site.json  ca/chain.pem ca/crl.pem ca/revoked.txt  broker/broker.{crt,key}.pem
                              (+ ca/crl.der once the site has a CRL URL)
    <site>/deploy/<hub_id>/   site.json  ca/chain.pem ca/crl.pem ca/revoked.txt  hub/<hub_id>.{crt,key}.pem
                              registry/<device>.json

A view has the site's own layout, so `mch-broker run --site <site>/deploy/broker` and
`mch-hub run --site <site>/deploy/hub` read it unchanged. Copy a view to its machine (it is the
only thing that machine needs); no view holds a CA key, another server's key or a device's
TLS key. Directories holding secrets are 0700, secrets 0600.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from mch_link import registry
from mch_link.registry import RegistryEntry
from mch_link.sitefiles import REVOKED_FILE, broker_view, hub_view
from provisioning import pki
from provisioning.files import make_dir, read_bytes, write_public, write_secret

PUBLIC_FILES = (registry.SITE_FILE, "ca/chain.pem", "ca/crl.pem", REVOKED_FILE)
BROKER_FILES = (("broker/broker.crt.pem", False), ("broker/broker.key.pem", True))
CRL_DER = "ca/crl.der"  # the CRL as served at the site's CRL Distribution Point (pki.CRL_URL_FILE)


def _copy(site: Path, view: Path, rel: str, secret: bool) -> None:
    data = read_bytes(site / rel, rel)
    (write_secret if secret else write_public)(view / rel, data)


def _make(view: Path, secret_dirs: Iterable[str]) -> None:
    make_dir(view, secret=True)
    make_dir(view / "ca")
    for sub in secret_dirs:
        make_dir(view / sub, secret=True)


def views(site: Path, hub_ids: Iterable[str]) -> list[Path]:
    return [broker_view(site), *(hub_view(site, h) for h in hub_ids)]


def _crl_der(site: Path, view: Path) -> None:
    """The CRL in DER beside crl.pem in the broker's view: what an HTTP server at the CRL
    Distribution Point serves (RFC 5280 §4.2.1.13) for a clustered broker to fetch; only while
    the site has a CRL URL (`mch-provision crl-url`)."""
    if pki.read_crl_url(site) is None:
        (view / CRL_DER).unlink(missing_ok=True)
        return
    crl = pki.crl_from_pem(read_bytes(site / "ca/crl.pem", "CRL"), "ca/crl.pem")
    write_public(view / CRL_DER, crl.public_bytes(serialization.Encoding.DER))


def sync_public(site: Path, hub_ids: Iterable[str]) -> None:
    """site.json, chain, CRL and revoked list into every view (after revoke, renew-crl, issue-hub)."""
    for view in views(site, hub_ids):
        if view.is_dir():
            for rel in PUBLIC_FILES:
                _copy(site, view, rel, secret=False)
    if broker_view(site).is_dir():
        _crl_der(site, broker_view(site))


def export_broker(site: Path) -> Path:
    view = broker_view(site)
    _make(view, ["broker"])
    for rel in PUBLIC_FILES:
        _copy(site, view, rel, secret=False)
    for rel, secret in BROKER_FILES:
        _copy(site, view, rel, secret)
    _crl_der(site, view)
    return view


def export_hub(site: Path, hub_id: str) -> Path:
    """The view of one hub worker: its own identity and the whole registry."""
    view = hub_view(site, hub_id)
    _make(view, [registry.HUB_DIR, registry.REGISTRY_DIR])
    for rel in PUBLIC_FILES:
        _copy(site, view, rel, secret=False)
    ident = registry.hub_identity(site, hub_id)
    write_public(view / registry.HUB_DIR / ident.cert.name, read_bytes(ident.cert, "hub certificate"))
    write_secret(view / registry.HUB_DIR / ident.key.name, read_bytes(ident.key, "hub key"))
    for path in sorted((site / registry.REGISTRY_DIR).glob("*.json")):
        write_secret(view / registry.REGISTRY_DIR / path.name, read_bytes(path, "registry entry"))
    return view


def write_entry(site: Path, hub_ids: Iterable[str], entry: RegistryEntry) -> None:
    """A new or changed registry entry into every hub view."""
    for hub_id in hub_ids:
        view = hub_view(site, hub_id)
        if view.is_dir():
            write_secret(registry.entry_path(view, entry.device_id), entry.to_json().encode())


def export_all(site: Path, hub_ids: Iterable[str]) -> list[Path]:
    hubs = list(hub_ids)
    return [export_broker(site), *(export_hub(site, h) for h in hubs)]
