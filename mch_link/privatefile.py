"""Private files: secrets written atomically without following planted symlinks, and SQLite files
that hold personal data (a station's archive, a device outbox): 0600 in a 0700 directory
whatever the umask.

SQLite creates a database 0644 & ~umask and gives its -wal/-shm/-journal files the database
file's own mode. So the database file is created here first, 0600 with O_EXCL|O_NOFOLLOW, and
an existing one that is readable by others (made by an earlier release) is tightened.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
OTHERS_MASK = 0o077
SIDE_FILES = ("-wal", "-shm", "-journal")


def prepare_private_db(path: Path) -> Path:
    """Make `path`'s directory (0700 when created here) and the file itself 0600; returns `path`."""
    path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE_MODE)
        os.close(fd)
    except FileExistsError:
        pass
    for candidate in (path, *(path.with_name(path.name + s) for s in SIDE_FILES)):
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_mode & OTHERS_MASK:
            os.chmod(candidate, PRIVATE_FILE_MODE)
    return path


CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def write_atomic(path: Path, data: bytes, mode: int, *, exclusive: bool = False) -> None:
    """Write `data` to a fresh temp file created with `mode`, fsync, then move it to `path`.

    The temp name is random and opened O_EXCL|O_NOFOLLOW, so nothing planted under a
    predictable name (a symlink to elsewhere) is written to. `exclusive`: never replace an
    existing `path` (FileExistsError), not even one that appears meanwhile (link, not rename).
    Raises OSError."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, CREATE_FLAGS, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            os.link(tmp, path)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
