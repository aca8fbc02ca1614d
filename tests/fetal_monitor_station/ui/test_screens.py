"""Every screen of the nurse UI in Chinese and English under Xvfb, over a simulated ward (real
station, analysis and alarms, monitors on ptys): screenshots kept in build/screenshots/station-ui,
no missing glyphs, and the states the screens must show."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, SCREENSHOTS, kivy_env, png_colours

pytestmark = [pytest.mark.ui, pytest.mark.slow]
SCREENS = ("overview", "detail", "alarms", "admit", "archive")


@pytest.fixture(scope="module")
def shots(xvfb_display: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("ward")
    proc = subprocess.run([sys.executable, "-m", "tests.fetal_monitor_station.ui.shots_app", str(tmp), str(SCREENSHOTS)],
                          cwd=REPO, env=kivy_env(xvfb_display, tmp), capture_output=True, text=True, timeout=240)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("SHOTS ")]
    assert lines, f"screenshot app failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    report = json.loads(lines[0][len("SHOTS "):])
    assert "error" not in report, report.get("error")
    return report


def test_every_screen_in_both_languages_is_kept(shots: dict) -> None:
    got = {(s["name"], s["lang"]) for s in shots["shots"]}
    assert got == {(n, lang) for n in SCREENS for lang in ("zh", "en")}
    for s in shots["shots"]:
        path = Path(s["path"])
        size, colours = png_colours(path)
        assert size == (1280, 800), path
        assert colours > 8, f"{path} looks blank"


def test_no_missing_glyphs(shots: dict) -> None:
    assert shots["check_sane"], "the check cannot tell a glyph from the .notdef box"
    assert shots["missing"] == []
    zh_text = "".join(t for s in shots["shots"] if s["lang"] == "zh" for t in s["texts"])
    assert "胎心中央监护" in zh_text and "离线" in zh_text  # Chinese really rendered and checked


def _texts(shots: dict, name: str, lang: str) -> str:
    return "\n".join(next(s for s in shots["shots"] if (s["name"], s["lang"]) == (name, lang))["texts"])


def test_overview_shows_alarm_bed_enlarged_offline_empty_and_hub_down(shots: dict) -> None:
    state = shots["state"]
    assert state["first_tile"] == "bed-04" and state["first_enlarged"]
    assert state["states"]["bed-06"] == "offline" and state["states"]["bed-05"] == "unidentified"
    assert state["states"]["bed-07"] == "empty"
    en = _texts(shots, "overview", "en")
    assert "Offline since" in en and "Empty bed" in en and "Not admitted" in en
    assert "Hub unreachable since" in en and "37 records waiting" in en
    assert "bed-04 Bradycardia" in en
    assert "bed-06 Monitor disconnected" in en  # technical, on the cyan banner
    zh = _texts(shots, "overview", "zh")
    assert "中心服务器不可达" in zh and "空床" in zh and "胎心过缓" in zh


def test_detail_dragged_back_shows_the_banner(shots: dict) -> None:
    assert "Viewing −12 min" in _texts(shots, "detail", "en")
    assert "正在查看 −12 分钟" in _texts(shots, "detail", "zh")
    assert "Return to live" in _texts(shots, "detail", "en")
    assert "左侧卧位 吸氧" in shots["detail_notes"]  # the nurse's note 18 min ago is on the paper


def test_alarms_admit_archive_contents(shots: dict) -> None:
    alarms = _texts(shots, "alarms", "en")
    assert "Clinical alarms" in alarms and "Technical alarms" in alarms and "Alarm history" in alarms
    assert "bed-06  Monitor disconnected" in alarms
    admit = _texts(shots, "admit", "zh")
    assert "待处理监护" in admit and "bed-05" in admit  # the trace recorded before admission
    card = shots["card"]
    for lang, born in (("zh", "出生"), ("en", "born")):
        admit = _texts(shots, "admit", lang)
        masked = card["id"][:4] + "*" * 10 + card["id"][-4:]
        assert masked in admit and f"{born} {card['birth']}" in admit and card["name"] in admit  # filled from the card
        assert card["id"] not in admit  # the full ID number is never on screen
    en = _texts(shots, "admit", "en")
    assert "Antenatal NST" in en and "Pregnancy record no." in en and "PR2026-0099" in en
    assert "产前监护 (NST)" in _texts(shots, "admit", "zh") and "建档号" in _texts(shots, "admit", "zh")
    archive = _texts(shots, "archive", "zh")
    assert "H10004  赵敏  bed-04" in archive


def test_the_window_renders_without_multisampling(shots: dict) -> None:
    """The samples of the window's real GL context: Kivy's default (2, which Mesa's llvmpipe makes 4)
    multiplied the cost of every frame's swap under the software renderer."""
    assert shots["gl_samples"] == 0
