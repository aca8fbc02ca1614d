"""Child processes as an operator sees them: stop one (SIGTERM, a grace period, then SIGKILL), list a tree."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

KILL_WAIT_S = 5.0


def terminate(proc: subprocess.Popen[Any], grace_s: float) -> int:
    """SIGTERM and wait up to `grace_s`; SIGKILL if it is still running. Returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(KILL_WAIT_S)
    return proc.returncode


def process_tree(pid: int) -> list[int]:
    """A process and its descendants, from /proc (the hub's store half is a child process)."""
    out = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            out.extend(process_tree(int(child)))
    return out
