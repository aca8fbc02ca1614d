"""Screens for `make run`: the kiosk and the nurse station each get a display.

On a desktop ($DISPLAY set) both windows open there. On a machine without a screen each gets
its own Xvfb and an x11vnc server on loopback, so a person reaches it with any VNC viewer
(through `ssh -L 5900:127.0.0.1:5900 ...` from elsewhere).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

XVFB_SIZE = "1280x800x24"
START_TIMEOUT_S = 10.0


@dataclass
class Screen:
    name: str
    display: str
    vnc_port: int | None = None
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def where(self) -> str:
        if self.vnc_port is None:
            return f"a window on {self.display}"
        return f"VNC 127.0.0.1:{self.vnc_port} (display {self.display}, 1280x800)"

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


def open_screen(name: str, vnc_port: int, logs: Path) -> Screen:
    """The desktop's display if there is one, otherwise a private Xvfb served over VNC."""
    if os.environ.get("DISPLAY"):
        return Screen(name, os.environ["DISPLAY"])
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", XVFB_SIZE, "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        number = f.readline().strip()
    if not number.isdigit():
        xvfb.terminate()
        raise SystemExit(f"make run: Xvfb for the {name} screen did not start")
    screen = Screen(name, f":{number}", procs=[xvfb])
    if shutil.which("x11vnc"):
        log = open(logs / f"vnc-{name}.log", "ab")  # noqa: SIM115 - the child owns it
        screen.procs.append(subprocess.Popen(
            ["x11vnc", "-display", screen.display, "-localhost", "-rfbport", str(vnc_port), "-forever",
             "-shared", "-nopw", "-quiet"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        log.close()
        screen.vnc_port = vnc_port
    return screen
