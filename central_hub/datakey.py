"""Personal data at rest: record bodies sealed with AES-256-GCM under the hub data key.

The key lives in the hub's state directory, mode 0600, written with that mode from the first
byte; a key file readable by group or others is refused. Each sealed value gets a random 96-bit
nonce (NIST SP 800-38D §8.2.2: at most 2**32 values per key) and the row identity as AAD, so a
ciphertext moved to another row does not open. Rows carry the key id, so a new key can be
added without re-encrypting old rows.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from central_hub.errors import HubConfigError, HubError

KEY_FILE = "data.key"
FORMAT = "mch-hub-data-key/1"
KEY_BYTES = 32
NONCE_BYTES = 12
FILE_MODE = 0o600


class DataKeyError(HubError):
    """A sealed value does not open (wrong key, tampered row)."""


@dataclass(frozen=True)
class DataCipher:
    key_id: int
    keys: dict[int, bytes] = field(repr=False)

    def __post_init__(self) -> None:
        if self.key_id not in self.keys or any(len(k) != KEY_BYTES for k in self.keys.values()):
            raise HubConfigError(f"data key: current key {self.key_id} missing or not {KEY_BYTES} bytes")
        object.__setattr__(self, "_aead", {kid: AESGCM(k) for kid, k in self.keys.items()})

    def seal(self, aad: bytes, plaintext: bytes) -> tuple[int, bytes, bytes]:
        """(key id, nonce, ciphertext with tag)."""
        nonce = os.urandom(NONCE_BYTES)
        return self.key_id, nonce, self._aead[self.key_id].encrypt(nonce, plaintext, aad)  # type: ignore[attr-defined]

    def open(self, key_id: int, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        aead = self._aead.get(key_id)  # type: ignore[attr-defined]
        if aead is None:
            raise DataKeyError(f"no data key {key_id}")
        try:
            return bytes(aead.decrypt(nonce, ciphertext, aad))
        except InvalidTag:
            raise DataKeyError("sealed value does not open (wrong key or tampered row)") from None

    @classmethod
    def generate(cls) -> DataCipher:
        return cls(1, {1: secrets.token_bytes(KEY_BYTES)})


def load_or_create(state_dir: Path) -> DataCipher:
    """Read ``<state_dir>/data.key``; create it (0600) on first start."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = state_dir / KEY_FILE
    if not path.exists():
        cipher = DataCipher.generate()
        try:
            _write(path, cipher)
            return cipher
        except FileExistsError:  # another worker made it meanwhile: use theirs
            pass
    return load(path)


def load(path: Path) -> DataCipher:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text()
    except OSError as exc:
        raise HubConfigError(f"data key {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise HubConfigError(f"data key {path} has mode {mode:o}: must be {FILE_MODE:o} (chmod 600)")
    try:
        doc = json.loads(text)
        if doc.get("format") != FORMAT:
            raise HubConfigError(f"data key {path}: unknown format {doc.get('format')!r}")
        keys = {int(kid): bytes.fromhex(hexkey) for kid, hexkey in doc["keys"].items()}
        return DataCipher(int(doc["current"]), keys)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise HubConfigError(f"data key {path}: malformed ({exc.__class__.__name__})") from None


def _write(path: Path, cipher: DataCipher) -> None:
    """Complete before visible: write a private temp file, then link it in (fails if one exists)."""
    doc = {"format": FORMAT, "current": cipher.key_id, "keys": {str(k): v.hex() for k, v in cipher.keys.items()}}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(doc))
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
