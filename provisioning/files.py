"""File writing with the right mode from the first byte (no window where a secret is readable)."""

from __future__ import annotations

import os
from pathlib import Path

from mch_link.privatefile import write_atomic
from provisioning.errors import ProvisioningError

SECRET_MODE = 0o600
PUBLIC_MODE = 0o644
SECRET_DIR_MODE = 0o700
PUBLIC_DIR_MODE = 0o755


def _write(path: Path, data: bytes, mode: int, exclusive: bool) -> Path:
    """Atomic write with `mode` from the first byte, never through a planted symlink
    (mch_link.privatefile.write_atomic); `exclusive` never replaces an existing file."""
    if exclusive and os.path.lexists(path):
        raise ProvisioningError(f"refusing to overwrite {path}")
    try:
        write_atomic(path, data, mode, exclusive=exclusive)
    except FileExistsError:
        raise ProvisioningError(f"refusing to overwrite {path}") from None
    except OSError as exc:
        raise ProvisioningError(f"cannot write {path}: {exc.strerror}") from None
    return path


def write_secret(path: Path, data: bytes, exclusive: bool = False) -> Path:
    """A private key, link keys, a registry entry: mode 0600."""
    return _write(path, data, SECRET_MODE, exclusive)


def write_public(path: Path, data: bytes, exclusive: bool = False) -> Path:
    """Certificates, CRLs, config: mode 0644."""
    return _write(path, data, PUBLIC_MODE, exclusive)


def make_dir(path: Path, secret: bool = False) -> Path:
    mode = SECRET_DIR_MODE if secret else PUBLIC_DIR_MODE
    try:
        path.mkdir(mode=mode, parents=True, exist_ok=True)
    except OSError as exc:
        raise ProvisioningError(f"cannot create directory {path}: {exc.strerror}") from None
    return path


def read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ProvisioningError(f"cannot read {what} {path}: {exc.strerror}") from None
