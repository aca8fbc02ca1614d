"""Stopping child processes the way an operator would: SIGTERM, a grace period, then SIGKILL."""

from __future__ import annotations

import signal
import subprocess
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
