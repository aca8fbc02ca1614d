"""File writing with the right mode from the first byte (no window where a secret is readable)."""

from __future__ import annotations

import os
from pathlib import Path

from provisioning.errors import ProvisioningError

SECRET_MODE = 0o600
PUBLIC_MODE = 0o644
SECRET_DIR_MODE = 0o700
PUBLIC_DIR_MODE = 0o755


def _write(path: Path, data: bytes, mode: int, exclusive: bool) -> Path:
    """Write to a temp file created with `mode`, fsync, rename over `path`."""
    if exclusive and path.exists():
        raise ProvisioningError(f"refusing to overwrite {path}")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
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
