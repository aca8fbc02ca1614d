"""File writing with the right mode from the first byte (no window where a secret is readable)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from provisioning.errors import ProvisioningError

SECRET_MODE = 0o600
PUBLIC_MODE = 0o644
SECRET_DIR_MODE = 0o700
PUBLIC_DIR_MODE = 0o755


CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _write(path: Path, data: bytes, mode: int, exclusive: bool) -> Path:
    """Write to a fresh temp file created with `mode`, fsync, rename over `path`.

    The temp name is random and opened O_EXCL|O_NOFOLLOW, so nothing planted under a
    predictable name (a symlink to elsewhere, a file someone else holds open) is written to."""
    if exclusive and os.path.lexists(path):
        raise ProvisioningError(f"refusing to overwrite {path}")
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(tmp, CREATE_FLAGS, mode)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if exclusive:
                os.link(tmp, path)  # fails if `path` appeared meanwhile: never overwritten
                os.unlink(tmp)
            else:
                os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
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
