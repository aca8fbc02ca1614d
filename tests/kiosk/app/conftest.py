"""Xvfb for the kiosk UI tests and a runner for the app driver (one subprocess per scenario)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.xvfb import xvfb

REPO = Path(__file__).resolve().parents[3]
SCREENSHOTS = REPO / "build" / "screenshots" / "kiosk"
RUN_TIMEOUT_S = 240


@pytest.fixture(scope="session")
def xvfb_display() -> Iterator[str]:
    with xvfb() as display:
        yield display


@pytest.fixture(scope="session")
def cupsd() -> None:
    """cupsd (and pcscd) as the set-up starts them, for the A4 report through a CUPS queue."""
    subprocess.run(["bash", str(REPO / "scripts" / "setup.d" / "30-kiosk.sh")], check=True, timeout=60,
                   capture_output=True)


Runner = Callable[..., dict[str, Any]]


@pytest.fixture
def run_kiosk(xvfb_display: str, tmp_path: Path) -> Runner:
    """Run the app on the simulators with a script; screenshots go to build/screenshots/kiosk/<name>/."""

    def run(name: str, steps: list[dict[str, Any]], **options: Any) -> dict[str, Any]:
        out = SCREENSHOTS / name
        out.mkdir(parents=True, exist_ok=True)
        for old in out.iterdir():
            if old.is_file():
                old.unlink()
        env = {**os.environ, "DISPLAY": xvfb_display, "KIVY_HOME": str(tmp_path / "kivy"), "KIVY_NO_ARGS": "1",
               "KIVY_NO_FILELOG": "1", "KIVY_NO_CONSOLELOG": "1", "PYTHONPATH": str(REPO)}
        spec = json.dumps({"out": str(out), "steps": steps, **options})
        proc = subprocess.run([sys.executable, "-m", "tests.kiosk.app.kiosk_ui_driver", spec], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("REPORT ")]
        assert lines, f"kiosk app failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
        report: dict[str, Any] = json.loads(lines[-1][len("REPORT "):])
        assert report["error"] is None, report["error"]
        return report
    return run
