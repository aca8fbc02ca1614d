"""A simulated monitor's serial port: the master side of a pseudo-terminal.

The station opens the slave side by URL. With `link_path`, a symlink at a stable path points
to the current slave (like /dev/serial/by-id): `unplug()` closes the pty and removes the
link, `replug()` makes a new pty and points the link at it, so the station's URL stays valid.
Writes never block: bytes the pty cannot take are counted in `dropped_bytes`.
"""

from __future__ import annotations

import contextlib
import os
import tty
from pathlib import Path

from fetal_monitor_station.errors import StationError


class PtyPort:
    def __init__(self, link_path: Path | str | None = None) -> None:
        self.link_path = Path(link_path) if link_path is not None else None
        self._master: int | None = None
        self._slave: int | None = None
        self.slave_path = ""
        self.dropped_bytes = 0
        self.written_bytes = 0
        self.replug()

    @property
    def url(self) -> str:
        return str(self.link_path) if self.link_path is not None else self.slave_path

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def replug(self) -> None:
        if self._master is not None:
            return
        try:
            master, slave = os.openpty()
            tty.setraw(slave)
            os.set_blocking(master, False)
            self.slave_path = os.ttyname(slave)
        except OSError as exc:
            raise StationError(f"cannot create a pseudo-terminal: {exc}") from None
        self._master, self._slave = master, slave
        if self.link_path is not None:
            tmp = self.link_path.with_name(self.link_path.name + ".tmp")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            os.symlink(self.slave_path, tmp)
            os.replace(tmp, self.link_path)

    def unplug(self) -> None:
        if self.link_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link_path.unlink()
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    def write(self, data: bytes) -> int:
        """Write what the pty takes now; returns bytes written, counts the rest as dropped."""
        if self._master is None:
            self.dropped_bytes += len(data)
            return 0
        try:
            n = os.write(self._master, data)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError:  # the pty went away under us
            n = 0
        self.written_bytes += n
        self.dropped_bytes += len(data) - n
        return n

    def read(self, max_bytes: int = 256) -> bytes:
        """Bytes the host sent (requests in Transmit/Receive mode); b"" when none."""
        if self._master is None:
            return b""
        try:
            return os.read(self._master, max_bytes)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:  # no slave open yet (EIO)
            return b""

    def close(self) -> None:
        self.unplug()
