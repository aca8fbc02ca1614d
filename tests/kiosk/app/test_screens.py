"""Every screen of the kiosk in Chinese and English under Xvfb: screenshots kept in
build/screenshots/kiosk/, no missing-glyph boxes, touch targets >= 60 dp, text >= 18 dp."""

from __future__ import annotations

from typing import Any

import pytest

from kiosk.app.kivy_app import SCREENS
from tests.kiosk.app.conftest import Runner

pytestmark = [pytest.mark.ui, pytest.mark.integration]


def tour(lang: str) -> list[dict[str, Any]]:
    t = lambda label, **kw: {"do": "tap", "label": label, **kw}  # noqa: E731
    shot = lambda screen, **kw: {"do": "shot", "name": f"{screen}_{lang}", "screen": screen, **kw}  # noqa: E731
    wait = lambda screen: {"do": "wait_screen", "screen": screen}  # noqa: E731
    return [
        {"do": "lang", "lang": lang}, shot("home"),
        t("by_number"), wait("number"), {"do": "keys", "keys": "1000234"}, shot("number"), t("back"), wait("home"),
        {"do": "place_id", "card": "valid"}, wait("register"),
        {"do": "keys", "keys": "20260901"}, t("height", suffix="：—"), {"do": "keys", "keys": "162"},
        t("weight", suffix="：—"), {"do": "keys", "keys": "55.5"}, t("gravidity", suffix="：—"),
        {"do": "keys", "keys": "2"}, t("parity", suffix="：—"), {"do": "keys", "keys": "1"}, shot("register"),
        t("next"), wait("screening"), t("yes"), shot("screening"), t("submit"), wait("message"), shot("message"),
        t("to_menu"), wait("menu"), shot("menu"),
        t("sign"), shot("card", busy_ok=True), {"do": "bank_card"}, {"do": "wait_screen", "screen": "pin", "busy_ok": True},
        {"do": "shot", "name": f"pin-holder_{lang}", "screen": "pin", "busy_ok": True},
        {"do": "pin", "keys": [*"123456", "ENTER"]}, wait("message"), t("to_menu"), wait("menu"),
        t("unbind"), wait("bindings"), shot("bindings"), t("back"), wait("menu"),
        t("book"), wait("slots"), shot("slots"), {"do": "tap_row"}, wait("message"), t("pay_now"),
        shot("pin", busy_ok=True), {"do": "pin", "keys": [*"123456", "ENTER"]}, wait("message"),
        t("leave"), shot("leave", busy_ok=True),
        {"do": "take_card"}, wait("home"),
        *[{"do": "tap", "label": "hospital"}] * 5, wait("tech_login"), shot("tech_login"),
        t("tech_id", suffix="：—"), {"do": "keys", "keys": "1001"}, t("tech_pin", suffix="：—"),
        {"do": "keys", "keys": "246810"}, t("ok"), wait("maintenance"), t("selftest"), {"do": "wait_idle"},
        shot("maintenance"), t("ceremony"), wait("ceremony"), shot("ceremony"), t("back"), wait("home"),
    ]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_screen_renders_cleanly(run_kiosk: Runner, lang: str) -> None:
    report = run_kiosk(f"screens-{lang}", tour(lang))
    shots = {s["screen"]: s for s in report["shots"]}
    assert set(shots) == set(SCREENS)
    for screen, shot in shots.items():
        assert shot["missing"] == [], f"{screen}: missing glyphs {shot['missing']}"
        assert shot["small_targets"] == [], f"{screen}: small touch targets {shot['small_targets']}"
        assert shot["small_text"] == [], f"{screen}: small text {shot['small_text']}"
        assert shot["layout"] == [], f"{screen}: {shot['layout']}"
        joined = " ".join(shot["texts"])
        if lang == "zh":
            assert any("\u4e00" <= ch <= "\u9fff" for ch in joined), screen
    assert report["hospital"]["charged_fen"] == 2500 and report["hospital"]["records"] == 1


def test_elder_mode_enlarges_text_without_breaking_layouts(run_kiosk: Runner) -> None:
    steps: list[dict[str, Any]] = [
        {"do": "place_id", "card": "valid", "known": True}, {"do": "wait_screen", "screen": "menu"},
        {"do": "shot", "name": "menu_standard", "screen": "menu"}, {"do": "tap", "label": "elder_on"},
        {"do": "shot", "name": "menu_elder", "screen": "menu"}, {"do": "tap", "label": "book"},
        {"do": "wait_screen", "screen": "slots"}, {"do": "shot", "name": "slots_elder", "screen": "slots"},
        {"do": "tap", "label": "back"}, {"do": "wait_screen", "screen": "menu"}, {"do": "tap", "label": "register"},
        {"do": "wait_screen", "screen": "register"}, {"do": "shot", "name": "register_elder", "screen": "register"}]
    report = run_kiosk("screens-elder", steps)
    shots = {s["name"]: s for s in report["shots"]}
    for name, shot in shots.items():
        assert shot["missing"] == [] and shot["small_targets"] == [] and shot["layout"] == [], name
    assert "标准字号" in shots["menu_elder"]["texts"] and "长辈大字模式" in shots["menu_standard"]["texts"]
    assert shots["menu_elder"]["min_font"] >= 1.25 * shots["menu_standard"]["min_font"]
