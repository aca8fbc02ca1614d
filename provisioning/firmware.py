"""Firmware releases for technicians: signing key, signed manifest, verification, publication, offers.

The manifest (`mchfw-manifest/1`) and the signed bytes are those firmware/mchfw/update.py
verifies on the device with pure-Python P-256 (docs/firmware.md): the lines `format=..`,
`version=..`, `board=..`, `size=..`, `sha256=..`, `key_id=..` joined by newlines, ECDSA P-256 /
SHA-256, the signature as raw r||s in hex.

Site layout (the signing key never leaves the site directory; hubs get only public files):

    firmware/<key_id>.key.json        signing key, scrypt + AES-256-GCM (provisioning.cakey), 0600
    firmware/keys.json                trusted public keys (mchfw-keys/1), what a bundle trusts
    deploy/<hub>/firmware/releases/<board>-<version>/{manifest.json,image.bin}   published
    deploy/<hub>/firmware/offers/<at>-<n>.json     offers waiting for the hub (mchfw-offer/1)
    deploy/<hub>/firmware/status.json              what the hub last saw (written by the hub)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from mch_link import registry
from mch_link.sitefiles import hub_view
from provisioning import cakey
from provisioning.errors import ProvisioningError
from provisioning.files import make_dir, read_bytes, write_public, write_secret

FORMAT = "mchfw-manifest/1"
FIELDS = ("format", "version", "board", "size", "sha256", "key_id")
KEYS_FORMAT = "mchfw-keys/1"
OFFER_FORMAT = "mchfw-offer/1"
STATUS_FORMAT = "mchfw-status/1"
COORD_LEN = 32
FIRMWARE_DIR = "firmware"
KEYS_FILE = "keys.json"
BUNDLE_KEYS_FILE = "firmware-keys.json"  # firmware/mchfw/config.py reads it from the bundle
RELEASES = "releases"
OFFERS = "offers"
STATUS_FILE = "status.json"
MANIFEST_FILE = "manifest.json"
IMAGE_FILE = "image.bin"
KEY_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
VERSION_RE = re.compile(r"(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})")
BOARD_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
# ESP-IDF app image: esp_image_header_t (24 bytes) + first segment header (8), then esp_app_desc_t,
# whose magic word and secure_version (the eFuse anti-rollback epoch) come first
ESP_IMAGE_MAGIC = 0xE9
ESP_APP_DESC_AT = 32
ESP_APP_DESC_MAGIC = 0xABCD5432


class FirmwareError(ProvisioningError):
    """A firmware key, image, manifest or release is refused; the message says what and how to fix it."""


def signing_input(m: dict[str, Any]) -> bytes:
    return "\n".join(f"{k}={m[k]}" for k in FIELDS).encode()


def _firmware_dir(site: Path) -> Path:
    return Path(site) / FIRMWARE_DIR


def key_path(site: Path, key_id: str) -> Path:
    return _firmware_dir(site) / f"{key_id}.key.json"


def check_key_id(key_id: str) -> str:
    if not KEY_ID_RE.fullmatch(key_id):
        raise FirmwareError(f"key id {key_id!r}: want {KEY_ID_RE.pattern} (e.g. fw-2026)")
    return key_id


def public_sec1(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


# -- keys --------------------------------------------------------------------------------------
def trusted_keys(site: Path) -> dict[str, bytes]:
    """key_id -> 65-byte SEC1 public key of every firmware signing key of the site."""
    path = _firmware_dir(site) / KEYS_FILE
    if not path.exists():
        return {}
    return parse_keys(read_bytes(path, "firmware keys"), str(path))


def parse_keys(raw: bytes, source: str) -> dict[str, bytes]:
    try:
        doc = json.loads(raw)
        if doc.get("format") != KEYS_FORMAT:
            raise ValueError(f"format must be {KEYS_FORMAT}")
        return {check_key_id(k): _sec1(bytes.fromhex(v)) for k, v in doc["keys"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FirmwareError(f"{source}: not a firmware key list ({exc})") from None


def _sec1(raw: bytes) -> bytes:
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)  # ValueError if not on the curve
    return raw


def keys_document(keys: dict[str, bytes]) -> bytes:
    return (json.dumps({"format": KEYS_FORMAT, "keys": {k: v.hex() for k, v in sorted(keys.items())}},
                       indent=1) + "\n").encode()


def generate_key(site: Path, key_id: str, passphrase: bytes,
                 cost: cakey.ScryptCost = cakey.PRODUCTION_COST) -> bytes:
    """A new signing key sealed under `passphrase`; its public key joins firmware/keys.json. Returns it (SEC1)."""
    check_key_id(key_id)
    path = key_path(site, key_id)
    if path.exists():
        raise FirmwareError(f"{path} exists: choose another key id (a key is never overwritten)")
    make_dir(_firmware_dir(site), secret=True)
    key = ec.generate_private_key(ec.SECP256R1())
    write_secret(path, cakey.protect(key, passphrase, cost), exclusive=True)
    keys = trusted_keys(site)
    keys[key_id] = public_sec1(key)
    write_public(_firmware_dir(site) / KEYS_FILE, keys_document(keys))
    return keys[key_id]


def load_key(site: Path, key_id: str, passphrase: bytes) -> ec.EllipticCurvePrivateKey:
    path = key_path(site, check_key_id(key_id))
    if not path.exists():
        raise FirmwareError(f"no signing key {key_id!r} in {path.parent} (mch-provision firmware keygen {key_id})")
    key = cakey.unprotect(read_bytes(path, "firmware signing key"), str(path), passphrase)
    if key.curve.name != "secp256r1":
        raise FirmwareError(f"{path}: firmware signing key must be ECDSA P-256")
    return key


def write_bundle_keys(site: Path, bundle: Path) -> Path:
    """The site's firmware keys into a device bundle (the device refuses every offer without them)."""
    keys = trusted_keys(site)
    if not keys:
        raise FirmwareError("the site has no firmware signing key yet: mch-provision firmware keygen KEY_ID")
    if not (bundle / "config.json").exists():
        raise FirmwareError(f"{bundle} is not a device bundle (no config.json)")
    return write_public(bundle / BUNDLE_KEYS_FILE, keys_document(keys))


# -- manifests ---------------------------------------------------------------------------------
def check_esp_secure_version(image: bytes, version: str) -> None:
    """An ESP-IDF app image's secure_version (the eFuse anti-rollback epoch) must be the version's MAJOR,
    which the device compares with its eFuse counter before writing (hw_esp32.SecureVersion)."""
    if len(image) < ESP_APP_DESC_AT + 8 or image[0] != ESP_IMAGE_MAGIC:
        raise FirmwareError("not an ESP-IDF app image (first byte is not 0xE9)")
    magic = int.from_bytes(image[ESP_APP_DESC_AT:ESP_APP_DESC_AT + 4], "little")
    if magic != ESP_APP_DESC_MAGIC:
        raise FirmwareError("ESP-IDF app image without an app descriptor")
    secure = int.from_bytes(image[ESP_APP_DESC_AT + 4:ESP_APP_DESC_AT + 8], "little")
    major = int(version.split(".")[0])
    if secure != major:
        raise FirmwareError(f"the image's secure_version is {secure} but version {version} has major {major}: "
                            "build with CONFIG_BOOTLOADER_APP_SECURE_VERSION equal to the major")


def make_manifest(image: bytes, version: str, board: str, key: ec.EllipticCurvePrivateKey, key_id: str,
                  esp_image: bool = False) -> dict[str, Any]:
    if not VERSION_RE.fullmatch(version):
        raise FirmwareError(f"version must be X.Y.Z, got {version!r}")
    if not BOARD_RE.fullmatch(board):
        raise FirmwareError(f"board {board!r}: want {BOARD_RE.pattern} (e.g. esp32)")
    if not image:
        raise FirmwareError("empty image")
    if esp_image:
        check_esp_secure_version(image, version)
    m: dict[str, Any] = {"format": FORMAT, "version": version, "board": board, "size": len(image),
                         "sha256": hashlib.sha256(image).hexdigest(), "key_id": check_key_id(key_id)}
    r, s = decode_dss_signature(key.sign(signing_input(m), ec.ECDSA(hashes.SHA256())))
    m["signature"] = (r.to_bytes(COORD_LEN, "big") + s.to_bytes(COORD_LEN, "big")).hex()
    return m


def verify_manifest(image: bytes, m: dict[str, Any], keys: dict[str, bytes]) -> None:
    """Raises FirmwareError naming what does not match (the device would refuse it the same way)."""
    if not isinstance(m, dict) or m.get("format") != FORMAT or any(k not in m for k in FIELDS + ("signature",)):
        raise FirmwareError(f"not a {FORMAT} manifest (fields {', '.join(FIELDS)}, signature)")
    pub = keys.get(m["key_id"])
    if pub is None:
        raise FirmwareError(f"signed with key {m['key_id']!r}, which this site does not trust")
    if len(image) != m["size"] or hashlib.sha256(image).hexdigest() != m["sha256"]:
        raise FirmwareError("the image is not the one the manifest names (size or SHA-256 differ)")
    try:
        sig = bytes.fromhex(m["signature"])
        if len(sig) != 2 * COORD_LEN:
            raise ValueError("signature must be 64 bytes")
        der = encode_dss_signature(int.from_bytes(sig[:COORD_LEN], "big"), int.from_bytes(sig[COORD_LEN:], "big"))
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pub).verify(
            der, signing_input(m), ec.ECDSA(hashes.SHA256()))
    except (ValueError, TypeError, InvalidSignature):
        raise FirmwareError("bad signature: the manifest was changed or signed with another key") from None


def load_manifest(path: Path) -> dict[str, Any]:
    try:
        m = json.loads(read_bytes(path, "manifest"))
    except ValueError:
        raise FirmwareError(f"{path} is not JSON") from None
    if not isinstance(m, dict):
        raise FirmwareError(f"{path} is not a manifest")
    return m


def manifest_bytes(m: dict[str, Any]) -> bytes:
    return (json.dumps(m, indent=1) + "\n").encode()


# -- the hubs' update channel ------------------------------------------------------------------
def _hub_channels(site: Path) -> list[Path]:
    hubs = registry.load_site_info(site).hub_ids
    if not hubs:
        raise FirmwareError("the site has no hub identity (mch-provision issue-hub)")
    return [hub_view(site, h) / FIRMWARE_DIR for h in hubs]


def release_name(m: dict[str, Any]) -> str:
    return f"{m['board']}-{m['version']}"


def publish(site: Path, image: bytes, m: dict[str, Any]) -> list[Path]:
    """Verify, then copy the release into every hub's channel (deploy/<hub>/firmware/releases/)."""
    verify_manifest(image, m, trusted_keys(site))
    out = []
    for channel in _hub_channels(site):
        where = channel / RELEASES / release_name(m)
        make_dir(where)
        if (where / MANIFEST_FILE).exists() and load_manifest(where / MANIFEST_FILE)["sha256"] != m["sha256"]:
            raise FirmwareError(f"{where} holds another image for {release_name(m)}: a version is published once")
        write_public(where / IMAGE_FILE, image)
        write_public(where / MANIFEST_FILE, manifest_bytes(m))  # last: the hub takes a release with a manifest
        out.append(where)
    return out


def offer(site: Path, version: str, board: str, devices: list[str], technician: str,
          clock: Any = time.time) -> list[Path]:
    """Ask the hubs to offer a published release to `devices`: an offer file the hub's channel turns
    into audited update-offer commands (in the technician's name) and then streams the image."""
    if not devices:
        raise FirmwareError("name the devices to offer it to")
    for d in devices:
        try:
            entry = registry.load_entry(site, d)
        except registry.RegistryError:
            raise FirmwareError(f"{d} is not enrolled on this site (mch-provision list)") from None
        if entry.status != registry.DeviceStatus.ACTIVE:
            raise FirmwareError(f"{d} is {entry.status.value}: offer updates to active devices only")
    out = []
    for channel in _hub_channels(site):
        if not (channel / RELEASES / f"{board}-{version}" / MANIFEST_FILE).exists():
            raise FirmwareError(f"{board}-{version} is not published to {channel.parent.name} "
                                "(mch-provision firmware publish)")
        doc = {"format": OFFER_FORMAT, "version": version, "board": board, "devices": sorted(set(devices)),
               "technician": technician, "at_ms": int(clock() * 1000)}
        make_dir(channel / OFFERS)
        path = channel / OFFERS / f"{doc['at_ms']}-{os.urandom(4).hex()}.json"
        write_public(path, (json.dumps(doc) + "\n").encode(), exclusive=True)
        out.append(path)
    return out


def status(site: Path) -> list[dict[str, Any]]:
    """What each hub last reported of its channel (status.json, written by central_hub.firmware_channel)."""
    out = []
    for channel in _hub_channels(site):
        path = channel / STATUS_FILE
        if not path.exists():
            out.append({"hub": channel.parent.name, "releases": [], "devices": [], "missing": True})
            continue
        try:
            doc = json.loads(read_bytes(path, "firmware status"))
            if doc.get("format") != STATUS_FORMAT:
                raise ValueError(f"format must be {STATUS_FORMAT}")
        except (ValueError, AttributeError) as exc:
            raise FirmwareError(f"{path}: unreadable ({exc}); is the hub's firmware channel running?") from None
        out.append({"hub": channel.parent.name, **doc})
    return out
