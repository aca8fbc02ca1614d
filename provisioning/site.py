"""A site: its CA, broker and hub identities, device registry and CRL, in one directory.

Layout (docs/link-contract.md, "Site directory")::

    site.json                      site id, broker host/port, hub identities
    ca/root.crt.pem  root.key.json  root CA (key under the root passphrase; keep it offline)
    ca/issuing.crt.pem  issuing.key.json  issuing CA (key under the site passphrase): leaves, CRL
    ca/chain.pem                   issuing + root: what the broker and devices trust
    ca/crl.pem                     CRL of the issuing CA, for the broker
    ca/revoked.txt                 names of the revoked identities (the broker disconnects them)
    broker/broker.crt.pem  broker.key.pem
    hub/<hub_id>.crt.pem  <hub_id>.key.pem
    registry/<device_id>.json      the hub registry (mch_link.registry)
    bundles/<device_id>/           default place of device bundles (hand them over: `handover`)
    deploy/broker/  deploy/<hub_id>/   what each server gets (provisioning/views.py)

CA keys are scrypt + AES-256-GCM (provisioning/cakey.py). Sites made before that have
``ca/*.key.pem`` (PKCS#8, 2,048 PBKDF2 rounds, one passphrase): `mch-provision migrate`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import ParamSpec, TypeVar

from cryptography import x509

from mch_link import registry
from mch_link.errors import LinkError
from mch_link.keys import LinkKeys
from mch_link.registry import DeviceKind, DeviceStatus, RegistryEntry, RegistryError
from mch_link.sitefiles import SiteFileError, format_revoked, load_revoked, revoked_path, validate_site_id
from mch_link.topics import validate_device_id
from provisioning import cakey, pki, views
from provisioning.bundle import hand_over, write_bundle
from provisioning.errors import EnrollmentError, PassphraseError, SiteError, UnknownDeviceError
from provisioning.files import make_dir, read_bytes, write_public, write_secret

DEFAULT_BROKER_HOST = "127.0.0.1"
DEFAULT_BROKER_PORT = 8883
LOCAL_HOSTS = ("127.0.0.1", "localhost")
BROKER_CN = "mch-broker"
ROOT_KEY = "root.key.json"
ISSUING_KEY = "issuing.key.json"
LEGACY_ISSUING_KEY = "issuing.key.pem"


@dataclass(frozen=True)
class Enrollment:
    device_id: str
    bundle: Path
    entry: RegistryEntry


class Site:
    """Open with `Site.open(path, passphrase)` or create with `Site.init(...)`."""

    def __init__(self, path: Path, info: registry.SiteInfo, passphrase: bytes | None = None) -> None:
        self.path = path
        self.info = info
        self._passphrase = passphrase
        self._issuer: pki.Issuer | None = None

    # --- paths -------------------------------------------------------------------------
    @property
    def ca_dir(self) -> Path:
        return self.path / "ca"

    @property
    def chain_path(self) -> Path:
        return self.ca_dir / "chain.pem"

    @property
    def crl_path(self) -> Path:
        return self.ca_dir / "crl.pem"

    @property
    def broker_cert_path(self) -> Path:
        return self.path / "broker" / "broker.crt.pem"

    @property
    def broker_key_path(self) -> Path:
        return self.path / "broker" / "broker.key.pem"

    def hub_identity(self, hub_id: str = "hub") -> registry.HubIdentity:
        return registry.hub_identity(self.path, hub_id)

    def default_bundle_dir(self, device_id: str) -> Path:
        return self.path / "bundles" / device_id

    # --- create / open -----------------------------------------------------------------
    @classmethod
    def init(cls, path: Path | str, passphrase: bytes, site_id: str, *, root_passphrase: bytes,
             broker_host: str = DEFAULT_BROKER_HOST, broker_port: int = DEFAULT_BROKER_PORT,
             hub_ids: Iterable[str] = ("hub",), ca_key_cost: cakey.ScryptCost = cakey.PRODUCTION_COST) -> Site:
        """`passphrase` protects the issuing CA (day-to-day signing, CRL renewal); `root_passphrase`,
        which must differ, protects the root CA key (needed only to re-issue the issuing CA)."""
        path = Path(path)
        if (path / registry.SITE_FILE).exists():
            raise SiteError(f"{path} is already a site ({registry.SITE_FILE} exists); refusing to overwrite its CA")
        if not passphrase or not root_passphrase:
            raise PassphraseError("the site and root passphrases must not be empty")
        if passphrase == root_passphrase:
            raise PassphraseError("the root CA passphrase must differ from the site (issuing CA) passphrase")
        _wrap(validate_site_id, site_id)
        hubs = tuple(dict.fromkeys(hub_ids))
        for hub_id in hubs:
            _wrap(registry.validate_hub_id, hub_id)
        info = registry.SiteInfo(site_id, broker_host, broker_port, ())
        site = cls(path, info, passphrase)
        make_dir(path)
        for sub, secret in (("ca", False), ("broker", True), ("hub", True), ("registry", True), ("bundles", True)):
            make_dir(path / sub, secret=secret)

        root_key = pki.new_key()
        root = pki.Issuer(pki.make_root(site_id, root_key), root_key)
        issuing_key = pki.new_key()
        issuing = pki.Issuer(pki.make_issuing(site_id, issuing_key, root), issuing_key)
        write_secret(site.ca_dir / ROOT_KEY, cakey.protect(root_key, root_passphrase, ca_key_cost), exclusive=True)
        write_public(site.ca_dir / "root.crt.pem", pki.cert_to_pem(root.cert))
        write_secret(site.ca_dir / ISSUING_KEY, cakey.protect(issuing_key, passphrase, ca_key_cost), exclusive=True)
        write_public(site.ca_dir / "issuing.crt.pem", pki.cert_to_pem(issuing.cert))
        write_public(site.chain_path, pki.cert_to_pem(issuing.cert) + pki.cert_to_pem(root.cert))
        site._issuer = issuing
        site._write_crl({}, number=1, now=pki.now_utc(), validity=pki.CRL_VALIDITY)
        site._write_revoked(set())

        broker_key = pki.new_key()
        hosts = tuple(dict.fromkeys((*LOCAL_HOSTS, broker_host)))
        broker_cert = pki.issue_leaf(BROKER_CN, broker_key.public_key(), issuing, server=True,
                                     validity=pki.BROKER_VALIDITY, site_id=site_id, hosts=hosts)
        write_secret(site.broker_key_path, pki.key_to_pem(broker_key))
        write_public(site.broker_cert_path, pki.cert_to_pem(broker_cert))
        site._save_info()
        for hub_id in hubs:
            site.issue_hub_identity(hub_id)
        views.export_broker(path)
        return site

    @classmethod
    def open(cls, path: Path | str, passphrase: bytes | None = None) -> Site:
        path = Path(path)
        if not (path / registry.SITE_FILE).is_file():
            raise SiteError(f"{path} is not a site: no {registry.SITE_FILE} (create one with `mch-provision init-site`)")
        return cls(path, _wrap(registry.load_site_info, path), passphrase)

    def _save_info(self) -> None:
        d = {"format": registry.SITE_FORMAT, "site_id": self.info.site_id, "broker_host": self.info.broker_host,
             "broker_port": self.info.broker_port, "hub_ids": list(self.info.hub_ids)}
        write_public(self.path / registry.SITE_FILE, json.dumps(d, indent=2).encode())

    def issuer(self) -> pki.Issuer:
        """The issuing CA, its key decrypted once with the site passphrase and kept in memory."""
        if self._issuer is None:
            if self._passphrase is None:
                raise PassphraseError("this operation needs the site passphrase")
            key_path = self.ca_dir / ISSUING_KEY
            if key_path.exists():
                key = cakey.unprotect(read_bytes(key_path, "issuing CA key"), str(key_path), self._passphrase)
            else:  # a site from before PKCS#12 CA keys (mch-provision migrate)
                key_path = self.ca_dir / LEGACY_ISSUING_KEY
                key = pki.key_from_pem(read_bytes(key_path, "issuing CA key"), str(key_path), self._passphrase)
            cert_path = self.ca_dir / "issuing.crt.pem"
            self._issuer = pki.Issuer(pki.cert_from_pem(read_bytes(cert_path, "issuing CA"), str(cert_path)), key,
                                      pki.read_crl_url(self.path))
        return self._issuer

    # --- identities ----------------------------------------------------------------------
    def issue_hub_identity(self, hub_id: str = "hub") -> registry.HubIdentity:
        ident = _wrap(self.hub_identity, hub_id)
        if ident.cert.exists():
            raise SiteError(f"hub identity {hub_id!r} already exists ({ident.cert})")
        key = pki.new_key()
        cert = pki.issue_leaf(hub_id, key.public_key(), self.issuer(), server=False,
                              validity=pki.HUB_VALIDITY, site_id=self.info.site_id)
        write_secret(ident.key, pki.key_to_pem(key), exclusive=True)
        write_public(ident.cert, pki.cert_to_pem(cert))
        self.info = registry.SiteInfo(self.info.site_id, self.info.broker_host, self.info.broker_port,
                                      (*self.info.hub_ids, hub_id))
        self._save_info()
        views.export_hub(self.path, hub_id)
        views.sync_public(self.path, self.info.hub_ids)
        return ident

    def enroll(self, device_id: str, kind: DeviceKind | str = DeviceKind.SIM, *, bundle_dir: Path | None = None,
               csr_pem: bytes | None = None, validity: timedelta = pki.DEVICE_VALIDITY) -> Enrollment:
        """Issue a device certificate (CN = device id) and link keys, write its bundle, register it."""
        _wrap(validate_device_id, device_id)
        try:
            kind = DeviceKind(kind)
        except ValueError:
            raise EnrollmentError(f"{device_id}: unknown kind {kind!r}, want one of "
                                  f"{', '.join(k.value for k in DeviceKind)}") from None
        entry_path = registry.entry_path(self.path, device_id)
        if entry_path.exists():
            raise EnrollmentError(f"{device_id} is already enrolled ({entry_path}); device ids are never reused")
        bundle = Path(bundle_dir) if bundle_dir else self.default_bundle_dir(device_id)
        issuer = self.issuer()
        make_dir(bundle, secret=True)
        key_pem: bytes | None = None
        if csr_pem is None:
            key = pki.new_key()
            key_pem = pki.key_to_pem(key)
            csr_pem = pki.make_csr(device_id, key)
            source = f"{device_id} (CSR made at enrolment)"
        else:
            source = f"{device_id} CSR"
        public_key = pki.check_csr(csr_pem, device_id, source)
        cert = pki.issue_leaf(device_id, public_key, issuer, server=False, validity=validity,
                              site_id=self.info.site_id)
        keys = LinkKeys.generate(device_id)
        config = {"format": "mch-device/1", "device_id": device_id, "kind": kind.value,
                  "site_id": self.info.site_id, "broker_host": self.info.broker_host,
                  "broker_port": self.info.broker_port}
        write_bundle(bundle, cert_pem=pki.cert_to_pem(cert), key_pem=key_pem, csr_pem=csr_pem,
                     chain_pem=read_bytes(self.chain_path, "CA chain"), keys=keys, config=config)
        entry = RegistryEntry(device_id, kind, DeviceStatus.ACTIVE, pki.serial_hex(cert),
                              cert.not_valid_after_utc, keys)
        _wrap(registry.write_entry, self.path, entry)
        views.write_entry(self.path, self.info.hub_ids, entry)
        return Enrollment(device_id, bundle, entry)

    def hand_over(self, device_id: str, dest: Path) -> list[str]:
        """Move the device's secrets out of the site: copy its bundle to `dest`, delete them here."""
        self.device(device_id)
        dest = Path(dest).resolve()
        if dest == self.path.resolve() or self.path.resolve() in dest.parents:
            raise EnrollmentError(f"{dest} is inside the site directory; hand the bundle over to the device's medium")
        return hand_over(self.default_bundle_dir(device_id), dest)

    def device(self, device_id: str) -> RegistryEntry:
        _wrap(validate_device_id, device_id)
        if not registry.entry_path(self.path, device_id).exists():
            raise UnknownDeviceError(f"{device_id} is not enrolled at site {self.path}")
        return _wrap(registry.load_entry, self.path, device_id)

    def devices(self) -> list[RegistryEntry]:
        return sorted(_wrap(registry.load_registry, self.path).values(), key=lambda e: e.device_id)

    def revoke(self, device_id: str, now: datetime | None = None) -> RegistryEntry:
        """Put the certificate on a fresh CRL (for the broker), mark the device revoked (for the hub)."""
        entry = self.device(device_id)
        now = now or pki.now_utc()
        self._add_to_crl(int(entry.cert_serial, 16), now)
        self._write_revoked({*self.revoked_names(), device_id})
        updated = RegistryEntry(entry.device_id, entry.kind, DeviceStatus.REVOKED, entry.cert_serial,
                                entry.not_after, entry.keys, revoked_at=entry.revoked_at or now)
        _wrap(registry.write_entry, self.path, updated)
        views.write_entry(self.path, self.info.hub_ids, updated)
        views.sync_public(self.path, self.info.hub_ids)
        return updated

    def revoke_hub_identity(self, hub_id: str, now: datetime | None = None) -> None:
        """CRL entry for a hub worker's certificate, and no more ACL block for it (site.json)."""
        ident = _wrap(self.hub_identity, hub_id)
        if hub_id not in self.info.hub_ids:
            raise UnknownDeviceError(f"{hub_id} is not an active hub identity of site {self.path}")
        cert = pki.cert_from_pem(read_bytes(ident.cert, "hub certificate"), str(ident.cert))
        self._add_to_crl(cert.serial_number, now or pki.now_utc())
        self._write_revoked({*self.revoked_names(), hub_id})
        self.info = registry.SiteInfo(self.info.site_id, self.info.broker_host, self.info.broker_port,
                                      tuple(h for h in self.info.hub_ids if h != hub_id))
        self._save_info()
        views.sync_public(self.path, self.info.hub_ids)

    def _add_to_crl(self, serial: int, now: datetime) -> None:
        crl = self.crl()
        revoked = pki.crl_entries(crl)
        revoked.setdefault(serial, now)
        self._write_crl(revoked, number=pki.crl_number(crl) + 1, now=now, validity=pki.CRL_VALIDITY)

    def revoked_names(self) -> frozenset[str]:
        return _wrap(load_revoked, self.path)

    def _write_revoked(self, names: set[str]) -> None:
        write_public(revoked_path(self.path), _wrap(format_revoked, names).encode())

    # --- CRL -----------------------------------------------------------------------------
    def crl(self) -> x509.CertificateRevocationList:
        return pki.crl_from_pem(read_bytes(self.crl_path, "CRL"), str(self.crl_path))

    def crl_next_update(self) -> datetime:
        next_update = self.crl().next_update_utc
        if next_update is None:
            raise SiteError(f"{self.crl_path} has no nextUpdate")
        return next_update

    def renew_crl(self, now: datetime | None = None, validity: timedelta = pki.CRL_VALIDITY) -> datetime:
        """Re-issue the CRL with the same entries and a new nextUpdate; returns it."""
        crl = self.crl()
        now = now or pki.now_utc()
        self._write_crl(pki.crl_entries(crl), number=pki.crl_number(crl) + 1, now=now, validity=validity)
        views.sync_public(self.path, self.info.hub_ids)
        return now + validity

    def _write_crl(self, revoked: dict[int, datetime], number: int, now: datetime, validity: timedelta) -> None:
        crl = pki.build_crl(self.issuer(), revoked, number, last_update=now, validity=validity)
        write_public(self.crl_path, pki.crl_to_pem(crl))


P = ParamSpec("P")
R = TypeVar("R")


def _wrap(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call into the link package; its errors become provisioning errors with the same message."""
    try:
        return func(*args, **kwargs)
    except (RegistryError, SiteFileError) as exc:
        raise SiteError(str(exc)) from None
    except LinkError as exc:
        raise EnrollmentError(str(exc)) from None
