"""Kivy under Xvfb: the kiosk's input configuration reaches Kivy's providers; injected touches
reach the widget (no /dev/uinput on the test machines, so touches are MotionEvents)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.xvfb import xvfb

pytestmark = pytest.mark.ui
REPO = Path(__file__).resolve().parents[3]
XVFB_START_S = 15
APP_TIMEOUT_S = 90
SDL2_WINDOW_PROVIDER = "SDL2MotionEventProvider"


@pytest.fixture(scope="module")
def xvfb_display() -> Iterator[str]:
    """Xvfb on a free display number (``-displayfd`` lets the server pick it)."""
    with xvfb() as display:
        yield display


def run_probe(display: str, tmp_path: Path, config: dict) -> dict:
    env = {**os.environ, "DISPLAY": display, "KIVY_HOME": str(tmp_path / "kivy"), "KIVY_NO_ARGS": "1",
           "KIVY_NO_FILELOG": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "tests.kiosk.touch.kivy_probe_app", json.dumps(config)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=APP_TIMEOUT_S)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("PROBE ")]
    assert lines, f"probe app failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return json.loads(lines[0][len("PROBE "):])


def test_providers_built_from_kiosk_config_and_touches_dispatched(xvfb_display: str, tmp_path: Path) -> None:
    report = run_probe(xvfb_display, tmp_path, {"provider": "hidinput", "device": "/dev/input/event7",
                                                "rotation": 90, "invert_x": True})
    types = sorted(p["type"] for p in report["providers"])
    # ours, plus the one the SDL2 window always adds; Kivy's probesysfs default is gone
    assert types == ["HIDInputMotionEventProvider", "MouseMotionEventProvider", SDL2_WINDOW_PROVIDER]
    hid = next(p for p in report["providers"] if p["type"] == "HIDInputMotionEventProvider")
    assert hid["input_fn"] == "/dev/input/event7"
    assert hid["ranges"] == {"invert_x": 1, "rotation": 90}
    mouse = next(p for p in report["providers"] if p["type"] == "MouseMotionEventProvider")
    assert mouse["mouse_yields"] is True
    assert report["window"] == [400, 300]
    def px(sx: float, sy: float) -> list[float]:  # Kivy maps 0..1 onto pixel 0..size-1
        return [sx * (400 - 1), sy * (300 - 1)]

    assert report["events"] == [["down", *px(0.25, 0.75)], ["move", *px(0.5, 0.5)], ["up", *px(0.5, 0.5)],
                                ["down", *px(0.9, 0.1)], ["up", *px(0.9, 0.1)]]


def test_mtdev_provider_gets_the_options(xvfb_display: str, tmp_path: Path) -> None:
    report = run_probe(xvfb_display, tmp_path, {"provider": "mtdev", "device": "/dev/input/event4",
                                                "rotation": 270, "invert_y": True, "keep_mouse": False})
    ours = [p for p in report["providers"] if p["type"] != SDL2_WINDOW_PROVIDER]
    assert [p["type"] for p in ours] == ["MTDMotionEventProvider"]
    assert ours[0]["input_fn"] == "/dev/input/event4"
    assert ours[0]["ranges"] == {"invert_y": 1, "rotation": 270}
    assert len(report["events"]) == 5
