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


def pages(suffix: str, *, fill: bool) -> list[dict[str, Any]]:
    """From the menu: menu, slots, the form (`fill`: typed in now; else as she left it) and screening,
    shot as <screen><suffix>, then back to the menu."""
    t = lambda label, **kw: {"do": "tap", "label": label, **kw}  # noqa: E731
    shot = lambda screen: {"do": "shot", "name": f"{screen}{suffix}", "screen": screen}  # noqa: E731
    wait = lambda screen: {"do": "wait_screen", "screen": screen}  # noqa: E731
    typing = [t("lmp", suffix="：—"), {"do": "keys", "keys": "20260901"}, t("height", suffix="：—"),
              {"do": "keys", "keys": "162"}, t("weight", suffix="：—"), {"do": "keys", "keys": "55.5"},
              t("gravidity", suffix="：—"), {"do": "keys", "keys": "2"}, t("parity", suffix="：—"),
              {"do": "keys", "keys": "1"}]
    return [
        shot("menu"), t("book"), wait("slots"), shot("slots"), t("back"), wait("menu"), t("register"),
        wait("register"), *(typing if fill else []), shot("register"), t("next"), wait("screening"),
        *([t("yes")] if fill else []), shot("screening"), t("back"), wait("register"), t("back"), wait("menu")]


ELDER_PAGES = ("menu", "slots", "register", "screening")


def test_elder_mode_enlarges_text_without_breaking_layouts(run_kiosk: Runner) -> None:
    """Each page in standard text, then in elder mode in Chinese and in English."""
    steps: list[dict[str, Any]] = [
        {"do": "place_id", "card": "valid", "known": True}, {"do": "wait_screen", "screen": "menu"},
        *pages("_standard", fill=True), {"do": "tap", "label": "elder_on"}, *pages("_elder", fill=False),
        {"do": "lang", "lang": "en"}, *pages("_elder_en", fill=False)]
    report = run_kiosk("screens-elder", steps)
    shots = {s["name"]: s for s in report["shots"]}
    assert set(shots) == {f"{page}{suffix}" for page in ELDER_PAGES for suffix in ("_standard", "_elder", "_elder_en")}
    for name, shot in shots.items():
        assert shot["missing"] == [] and shot["small_targets"] == [] and shot["layout"] == [], (name, shot)
        assert shot["small_text"] == [], (name, shot["small_text"])
    assert "标准字号" in shots["menu_elder"]["texts"] and "长辈大字模式" in shots["menu_standard"]["texts"]
    assert "Standard text" in shots["menu_elder_en"]["texts"] and "中文" in shots["menu_elder_en"]["texts"]
    assert "Health screening (please answer truthfully)" in shots["screening_elder_en"]["texts"]
    assert "健康情况筛查（请如实回答）" in shots["screening_elder"]["texts"]
    # the GA/EDD/BMI line under the form follows the language switch
    assert "GA 13w+2d · due 2027-06-08 · BMI 21.1" in shots["register_elder_en"]["texts"]
    assert "孕周 13周+2天 · 预产期 2027-06-08 · BMI 21.1" in shots["register_elder"]["texts"]
    for page in ELDER_PAGES:  # the smallest text of each page grows, in either language
        for suffix in ("_elder", "_elder_en"):
            assert shots[page + suffix]["min_font"] >= 1.25 * shots[page + "_standard"]["min_font"], page + suffix
