"""Small file helpers that work on MicroPython (no os.path) and CPython."""

import os

ENOENT = 2
EEXIST = 17
S_IFDIR = 0x4000


def exists(path: str) -> bool:
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def is_dir(path: str) -> bool:
    try:
        return bool(os.stat(path)[0] & S_IFDIR)
    except OSError:
        return False


def makedirs(path: str) -> None:
    cur = ""
    for part in path.split("/"):
        cur = cur + "/" + part if cur or path.startswith("/") else part
        if part and not is_dir(cur):
            try:
                os.mkdir(cur)
            except OSError as exc:
                if exc.args and exc.args[0] != EEXIST:
                    raise


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def write_atomic(path: str, data: bytes) -> None:
    """Whole-file replace: write a temporary file, sync, rename over the target."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        fsync(f)
    os.rename(tmp, path)


def fsync(f) -> None:
    f.flush()
    fsync_fn = getattr(os, "fsync", None)
    if fsync_fn is not None and hasattr(f, "fileno"):
        fsync_fn(f.fileno())


def remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def size(path: str) -> int:
    try:
        return os.stat(path)[6]
    except OSError:
        return 0


def listdir(path: str) -> list:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []
