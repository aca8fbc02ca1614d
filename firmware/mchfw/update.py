"""Signed firmware updates: verify the manifest, stream into the inactive slot, boot, confirm.

Manifest (JSON, docs/firmware.md): format, version "X.Y.Z", board, size, sha256 (hex of the
image), key_id, signature (hex r||s, ECDSA P-256 over SHA-256 of `signing_input`). The device
refuses: an unknown key or bad signature (before writing a byte), another board, a version not
newer than both the running one and the persisted floor (fwfloor.py: the highest version ever
confirmed), an image whose SHA-256 (re-read from flash) differs. Only then is
the slot marked to boot; the new image must call `confirm()` once healthy, else the bootloader
rolls back at the next reset (slots_host models ESP-IDF's pending-verify rollback).
"""

import binascii
import hashlib
import json

from mchfw import p256
from mchfw.fwfloor import VersionFloor, confirm_healthy, version_tuple

FORMAT = "mchfw-manifest/1"
FIELDS = ("format", "version", "board", "size", "sha256", "key_id")
CHUNK = 4096


class UpdateError(ValueError):
    """The update is refused; `reason` is one of the REASON_* codes."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason + (": " + detail if detail else ""))
        self.reason = reason


REASON_MALFORMED = "malformed"
REASON_UNKNOWN_KEY = "unknown-key"
REASON_BAD_SIGNATURE = "bad-signature"
REASON_WRONG_BOARD = "wrong-board"
REASON_DOWNGRADE = "downgrade"
REASON_TOO_BIG = "too-big"
REASON_HASH = "hash-mismatch"


def parse_version(text) -> tuple:
    parts = version_tuple(text)
    if parts is None:
        raise UpdateError(REASON_MALFORMED, "version must be X.Y.Z")
    return parts


def signing_input(m: dict) -> bytes:
    """The exact bytes signed: one line per field, in FIELDS order (shared with firmware/tools)."""
    return "\n".join(f"{k}={m[k]}" for k in FIELDS).encode()


def parse_manifest(raw: bytes) -> dict:
    try:
        m = json.loads(raw)
    except ValueError:
        raise UpdateError(REASON_MALFORMED, "manifest is not JSON") from None
    return check_fields(m)


def check_fields(m) -> dict:
    """The manifest's fields are there and well formed (not yet that it is signed)."""
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise UpdateError(REASON_MALFORMED, "format must be " + FORMAT)
    for k in FIELDS + ("signature",):
        if k not in m:
            raise UpdateError(REASON_MALFORMED, "missing " + k)
    if not isinstance(m["size"], int) or isinstance(m["size"], bool) or m["size"] <= 0:
        raise UpdateError(REASON_MALFORMED, "size must be a positive integer")
    parse_version(m["version"])
    return m


def verify_manifest(m: dict, trusted: dict) -> None:
    """trusted: key_id -> 65-byte SEC1 public key. Raises UpdateError."""
    pub = trusted.get(m["key_id"])
    if pub is None:
        raise UpdateError(REASON_UNKNOWN_KEY, str(m["key_id"]))
    try:
        sig = binascii.unhexlify(m["signature"])
        digest = binascii.unhexlify(m["sha256"])
    except (ValueError, TypeError):
        raise UpdateError(REASON_MALFORMED, "signature or sha256 is not hex") from None
    if len(digest) != 32:
        raise UpdateError(REASON_MALFORMED, "sha256 must be 32 bytes")
    if not p256.verify(p256.parse_pubkey(pub), signing_input(m), sig):
        raise UpdateError(REASON_BAD_SIGNATURE)


class Updater:
    def __init__(self, slots, trusted: dict, board: str, floor: VersionFloor, hw_floor=None) -> None:
        self.slots, self.trusted, self.board, self.floor = slots, trusted, board, floor
        # a monotonic store the flash cannot roll back (ESP32: eFuse secure version), or None (hw.py)
        self.hw_floor = hw_floor

    def running_version(self) -> tuple:
        m = self.slots.manifest(self.slots.running)
        return parse_version(m["version"]) if m else (0, 0, 0)

    def check(self, manifest_raw) -> dict:
        """Refuse before writing anything; manifest_raw is the JSON bytes or the decoded dict."""
        m = check_fields(manifest_raw) if isinstance(manifest_raw, dict) else parse_manifest(manifest_raw)
        verify_manifest(m, self.trusted)
        if m["board"] != self.board:
            raise UpdateError(REASON_WRONG_BOARD, "{}, this is {}".format(m["board"], self.board))
        version = parse_version(m["version"])
        newest = max(self.running_version(), self.floor.get())
        if version <= newest:
            raise UpdateError(REASON_DOWNGRADE, "{} is not newer than {}.{}.{} (running image or anti-rollback "
                              "floor)".format(m["version"], *newest))
        if self.hw_floor is not None and version[0] < self.hw_floor.get():
            raise UpdateError(REASON_DOWNGRADE, "{}: major below the hardware secure version {}".format(
                m["version"], self.hw_floor.get()))
        if m["size"] > self.slots.size:
            raise UpdateError(REASON_TOO_BIG)
        return m

    def begin(self, manifest_raw) -> "Install":
        """Checked, then the inactive slot erased: write the image with Install.write, then finish()."""
        m = self.check(manifest_raw)
        return Install(self.slots, m)

    def install(self, manifest_raw: bytes, read_chunk) -> int:
        """read_chunk(n) -> bytes (b"" at the end). Returns the slot that will boot next."""
        job = self.begin(manifest_raw)
        while job.done < job.manifest["size"]:
            chunk = read_chunk(min(CHUNK, job.manifest["size"] - job.done))
            if not chunk:
                break
            job.write(chunk)
        return job.finish()

    def confirm(self) -> None:
        confirm_healthy(self.slots, self.floor)


class Install:
    """One image being written into the inactive slot, in order, hashed as it goes."""

    def __init__(self, slots, manifest: dict) -> None:
        self.slots, self.manifest = slots, manifest
        self.target = slots.inactive()
        self.done = 0  # bytes received
        self._written = 0  # bytes on flash: written in CHUNK-aligned blocks (ESP32 partitions want 4 KB)
        self._buf = b""
        self._h = hashlib.sha256()
        slots.erase(self.target)

    def write(self, chunk: bytes) -> None:
        if self.done + len(chunk) > self.manifest["size"]:
            raise UpdateError(REASON_HASH, "more bytes than the manifest's size")
        self._h.update(chunk)
        self.done += len(chunk)
        self._buf += chunk
        while len(self._buf) >= CHUNK:
            self._flush(self._buf[:CHUNK])
            self._buf = self._buf[CHUNK:]

    def _flush(self, block: bytes) -> None:
        self.slots.write(self.target, self._written, block)
        self._written += len(block)

    def finish(self) -> int:
        """Hash checked as written and re-read from flash; only then the slot is marked to boot."""
        m = self.manifest
        if self._buf:
            self._flush(self._buf)
            self._buf = b""
        want = binascii.unhexlify(m["sha256"])
        if self.done != m["size"] or self._h.digest() != want or self.slots.sha256(self.target, m["size"]) != want:
            self.slots.erase(self.target)
            raise UpdateError(REASON_HASH, "image does not match the signed manifest")
        self.slots.set_boot(self.target, m)
        return self.target
