"""The hub's device registry: one file per device, ``<site>/registry/<device_id>.json`` (0600).

Provisioning writes it (enrol, revoke); the hub reads it. The format lives here, in the link
package, so that neither component imports the other.

File format (JSON object)::

    {"format": "mch-registry/1", "device_id": "kiosk-001", "kind": "kiosk",
     "status": "active" | "revoked", "cert_serial": "<lowercase hex>",
     "not_after": "<ISO 8601 UTC>", "revoked_at": "<ISO 8601 UTC>" | null,
     "keys": <the link-keys.json object>}
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from mch_link.errors import LinkError
from mch_link.keys import LinkKeys
from mch_link.privatefile import write_atomic
from mch_link.topics import DEVICE_ID_RE, HUB_ID, validate_device_id

REGISTRY_DIR = "registry"
FORMAT = "mch-registry/1"
SECRET_MODE = 0o600


class RegistryError(LinkError):
    """A registry file is missing, unreadable or malformed."""


class DeviceKind(StrEnum):
    KIOSK = "kiosk"
    STATION = "station"
    BRIDGE = "bridge"
    SIM = "sim"


class DeviceStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


@dataclass(frozen=True)
class RegistryEntry:
    device_id: str
    kind: DeviceKind
    status: DeviceStatus
    cert_serial: str  # lowercase hex, no separators
    not_after: datetime  # certificate expiry, timezone-aware UTC
    keys: LinkKeys
    revoked_at: datetime | None = None

    def __post_init__(self) -> None:
        validate_device_id(self.device_id)
        if self.keys.device_id != self.device_id:
            raise RegistryError(f"registry {self.device_id}: link keys belong to {self.keys.device_id!r}")
        if self.not_after.tzinfo is None:
            raise RegistryError(f"registry {self.device_id}: not_after must be timezone-aware")
        if not self.cert_serial or self.cert_serial.strip("0123456789abcdef"):
            raise RegistryError(f"registry {self.device_id}: cert_serial {self.cert_serial!r} is not lowercase hex")

    @property
    def active(self) -> bool:
        return self.status is DeviceStatus.ACTIVE

    def to_json(self) -> str:
        return json.dumps({
            "format": FORMAT,
            "device_id": self.device_id,
            "kind": self.kind.value,
            "status": self.status.value,
            "cert_serial": self.cert_serial,
            "not_after": self.not_after.astimezone(UTC).isoformat(),
            "revoked_at": self.revoked_at.astimezone(UTC).isoformat() if self.revoked_at else None,
            "keys": json.loads(self.keys.to_json()),
        }, indent=2)

    @classmethod
    def from_json(cls, text: str, source: str = "<registry>") -> RegistryEntry:
        try:
            d: dict[str, Any] = json.loads(text)
            if d.get("format") != FORMAT:
                raise RegistryError(f"{source}: unknown format {d.get('format')!r}, expected {FORMAT!r}")
            revoked_at = d.get("revoked_at")
            return cls(
                device_id=d["device_id"],
                kind=DeviceKind(d["kind"]),
                status=DeviceStatus(d["status"]),
                cert_serial=d["cert_serial"],
                not_after=datetime.fromisoformat(d["not_after"]),
                keys=LinkKeys.from_json(json.dumps(d["keys"])),
                revoked_at=datetime.fromisoformat(revoked_at) if revoked_at else None,
            )
        except RegistryError as exc:
            if str(exc).startswith(source):
                raise
            raise RegistryError(f"{source}: {exc}") from None
        except (KeyError, ValueError, TypeError, AttributeError, LinkError) as exc:
            raise RegistryError(f"{source}: malformed registry entry ({exc.__class__.__name__}: {exc})") from None


def entry_path(site_dir: Path | str, device_id: str) -> Path:
    return Path(site_dir) / REGISTRY_DIR / f"{validate_device_id(device_id)}.json"


def load_entry(site_dir: Path | str, device_id: str) -> RegistryEntry:
    path = entry_path(site_dir, device_id)
    try:
        text = path.read_text()
    except OSError as exc:
        raise RegistryError(f"registry: cannot read {path}: {exc.strerror}") from None
    entry = RegistryEntry.from_json(text, source=str(path))
    if entry.device_id != device_id:
        raise RegistryError(f"{path}: holds device {entry.device_id!r}, expected {device_id!r}")
    return entry


@dataclass(frozen=True)
class RegistryScan:
    """The registry read file by file: one bad file costs only its own device."""

    entries: dict[str, RegistryEntry]
    problems: dict[str, str]  # file name -> what is wrong with it (also files that are not registry files)
    unreadable: frozenset[str]  # device ids whose own file is unreadable: refused, never served from an old copy


def scan_registry(site_dir: Path | str) -> RegistryScan:
    """Every readable entry, and every `*.json` that is not one (a macOS `._kiosk-001.json`, a
    half-copied file, a file named for another device). Raises RegistryError only when the
    directory itself cannot be listed."""
    directory = Path(site_dir) / REGISTRY_DIR
    if not directory.is_dir():
        raise RegistryError(f"registry: {directory} is not a directory (is {site_dir} a site made by mch-provision?)")
    try:
        paths = sorted(directory.glob("*.json"))
    except OSError as exc:
        raise RegistryError(f"registry: cannot list {directory}: {exc.strerror}") from None
    entries: dict[str, RegistryEntry] = {}
    problems: dict[str, str] = {}
    unreadable: set[str] = set()
    for path in paths:
        if not DEVICE_ID_RE.fullmatch(path.stem) or path.stem.startswith(HUB_ID):
            problems[path.name] = "not a registry file: the name is not <device id>.json (ignored)"
            continue
        try:
            entries[path.stem] = load_entry(site_dir, path.stem)
        except RegistryError as exc:
            problems[path.name] = str(exc)
            unreadable.add(path.stem)
    return RegistryScan(entries, problems, frozenset(unreadable))


def load_registry(site_dir: Path | str) -> dict[str, RegistryEntry]:
    """Every device of the site, active and revoked, keyed by device id; any bad file is an error."""
    scan = scan_registry(site_dir)
    if scan.problems:
        name, problem = next(iter(scan.problems.items()))
        raise RegistryError(problem if problem.startswith(str(Path(site_dir))) else f"{name}: {problem}")
    return scan.entries


def write_entry(site_dir: Path | str, entry: RegistryEntry) -> Path:
    """Write atomically (temp file + rename), mode 0600 from the first byte."""
    path = entry_path(site_dir, entry.device_id)
    try:
        write_atomic(path, entry.to_json().encode(), SECRET_MODE)  # random temp name, O_EXCL|O_NOFOLLOW
    except OSError as exc:
        raise RegistryError(f"registry: cannot write {path}: {exc.strerror}") from None
    return path


SITE_FILE = "site.json"
SITE_FORMAT = "mch-site/1"
CA_CHAIN = "ca/chain.pem"
HUB_DIR = "hub"
HUB_ID_RE = re.compile(r"^hub(-[0-9]{1,4})?$")


def validate_hub_id(hub_id: str) -> str:
    if not HUB_ID_RE.fullmatch(hub_id):
        raise RegistryError(f"invalid hub identity {hub_id!r}: want 'hub' or 'hub-<n>'")
    return hub_id


@dataclass(frozen=True)
class HubIdentity:
    """Where a hub worker finds its TLS identity in the site directory."""

    hub_id: str
    cert: Path  # <site>/hub/<hub_id>.crt.pem
    key: Path  # <site>/hub/<hub_id>.key.pem (0600)
    ca: Path  # <site>/ca/chain.pem (issuing + root)


@dataclass(frozen=True)
class SiteInfo:
    site_id: str
    broker_host: str
    broker_port: int
    hub_ids: tuple[str, ...]


def load_site_info(site_dir: Path | str) -> SiteInfo:
    """`<site>/site.json`: site id, broker host/port, hub identities."""
    path = Path(site_dir) / SITE_FILE
    try:
        d = json.loads(path.read_text())
        if d.get("format") != SITE_FORMAT:
            raise RegistryError(f"{path}: unknown format {d.get('format')!r}, expected {SITE_FORMAT!r}")
        return SiteInfo(str(d["site_id"]), str(d["broker_host"]), int(d["broker_port"]),
                        tuple(str(h) for h in d["hub_ids"]))
    except OSError as exc:
        raise RegistryError(f"site: cannot read {path}: {exc.strerror}") from None
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise RegistryError(f"{path}: malformed site file ({exc.__class__.__name__}: {exc})") from None


def hub_identity(site_dir: Path | str, hub_id: str = "hub") -> HubIdentity:
    site = Path(site_dir)
    validate_hub_id(hub_id)
    return HubIdentity(hub_id, site / HUB_DIR / f"{hub_id}.crt.pem", site / HUB_DIR / f"{hub_id}.key.pem",
                       site / CA_CHAIN)
