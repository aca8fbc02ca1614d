"""The alarm sound through Kivy's SDL2 audio (SDL's dummy output device: the test machine has no
sound card): the loudest sounding priority loops, a change switches it, 0 stops it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, kivy_env

pytestmark = pytest.mark.ui
PROBE = """
import json, sys
from pathlib import Path
from fetal_monitor_station.ui.sound import AlarmSound
s = AlarmSound(Path(sys.argv[1]), volume=0.0)
out = {"available": s.available}
s.set_priority(3)
high = s._sounds[3]
out["high"] = [high.state, high.volume, high.loop, round(high.length, 2)]
s.set_priority(2)
out["switch"] = [high.state, s._sounds[2].state, s._sounds[2].volume]
s.set_priority(0)
out["quiet"] = [x.state for x in s._sounds.values()]
print("SOUND " + json.dumps(out))
"""


def test_alarm_sound_loops_switches_and_stops(xvfb_display: str, tmp_path: Path) -> None:
    env = {**kivy_env(xvfb_display, tmp_path), "SDL_AUDIODRIVER": "dummy"}
    proc = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "sounds")], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("SOUND ")]
    assert lines, proc.stderr[-3000:]
    out = json.loads(lines[0][len("SOUND "):])
    assert out["available"] is True
    assert out["high"][:3] == ["play", 0.6, True]  # volume 0 asked, the floor of high priority used
    assert out["high"][3] > 5.0  # one burst and its pause
    assert out["switch"] == ["stop", "play", 0.3]
    assert out["quiet"] == ["stop", "stop", "stop"]
