"""Every portable firmware test (tests/firmware/mp/mp_*.py) on the real MicroPython unix port,
and the portable core also on CPython (the tooling interpreter).

Each module runs once per interpreter (one subprocess); each of its test functions is one
pytest item that asserts its own PASS line.
"""

from __future__ import annotations

import re
import tempfile
from functools import cache

import pytest

from tests.firmware.conftest import MP_TESTS, run_cpython, run_micropython

MODULES = sorted(p.stem for p in MP_TESTS.glob("mp_*.py"))
# Modules whose code is only meant for the device side (pty UART, unix-port sockets) run on
# MicroPython only; the rest of the core is also importable and tested on CPython.
CPYTHON_TOO = {"mp_cbor", "mp_ccm", "mp_envelope", "mp_outbox", "mp_p256", "mp_corometrics",
               "mp_mqtt", "mp_link", "mp_config", "mp_bridge", "mp_ioboard", "mp_fwupdate"}
CASES = [(m, f) for m in MODULES for f in re.findall(r"^def (test_\w+)\(", (MP_TESTS / f"{m}.py").read_text(), re.M)]


@cache
def _run(interpreter: str, module: str) -> str:
    with tempfile.TemporaryDirectory(prefix="mchfw-") as tmp:
        run = run_micropython if interpreter == "micropython" else run_cpython
        proc = run(["mprun.py", module, tmp])
    return proc.stdout + proc.stderr


def _check(interpreter: str, module: str, func: str) -> None:
    out = _run(interpreter, module)
    assert re.search(rf"^PASS {func}$", out, re.M), f"{interpreter} {module}.{func}:\n{out[-4000:]}"


@pytest.mark.integration
@pytest.mark.parametrize(("module", "func"), CASES, ids=[f"{m}.{f}" for m, f in CASES])
def test_on_micropython(module: str, func: str) -> None:
    _check("micropython", module, func)


CPY_CASES = [c for c in CASES if c[0] in CPYTHON_TOO]


@pytest.mark.parametrize(("module", "func"), CPY_CASES, ids=[f"{m}.{f}" for m, f in CPY_CASES])
def test_on_cpython(module: str, func: str) -> None:
    _check("cpython", module, func)


def test_every_module_has_tests() -> None:
    assert MODULES, "no portable test modules found"
    for m in MODULES:
        assert any(c[0] == m for c in CASES), f"{m} defines no test_* function"
