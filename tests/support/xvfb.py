"""A private Xvfb for the UI tests: the server picks a free display (``-displayfd``), so several
test runs (and `make run`'s screens) never collide on a display number."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

SCREEN = "1280x800x24"


@contextmanager
def xvfb(screen: str = SCREEN) -> Iterator[str]:
    """Yields the display (``:N``); the server is stopped afterwards."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", screen, "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        assert number.isdigit(), "Xvfb did not report its display"
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(10)
