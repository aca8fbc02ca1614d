"""Building blocks of the touch scripts the UI tests hand to kiosk_ui_driver."""

from __future__ import annotations

from typing import Any

Step = dict[str, Any]
PIN = "123456"


def tap(label: str, **kw: Any) -> Step:
    return {"do": "tap", "label": label, **kw}


def field(label: str) -> Step:
    return tap(label, suffix="：—")


def wait(screen: str, *, busy_ok: bool = False) -> Step:
    """Until `screen` shows (and, unless `busy_ok`, nothing is running: the PIN screen is busy)."""
    return {"do": "wait_screen", "screen": screen, "busy_ok": busy_ok}


def keys(text: str) -> Step:
    return {"do": "keys", "keys": text}


def note(name: str, **kw: Any) -> Step:
    return {"do": "note", "name": name, **kw}


def shot(name: str, screen: str, *, busy_ok: bool = False) -> Step:
    """A screenshot of `screen` kept as build/screenshots/kiosk/<run>/<name>.png, with its checks."""
    return {"do": "shot", "name": name, "screen": screen, "busy_ok": busy_ok}


def register_new_patient(screening_yes: bool = False) -> list[Step]:
    """From the home screen with an unknown card: fill in the form and submit."""
    return [{"do": "place_id", "card": "valid"}, wait("register"), keys("20260901"), field("height"), keys("162"),
            field("weight"), keys("55.5"), field("gravidity"), keys("2"), field("parity"), keys("1"),
            tap("next"), wait("screening"), *([tap("yes")] if screening_yes else []), tap("submit"), wait("message")]


def known_patient() -> list[Step]:
    return [{"do": "place_id", "card": "valid", "known": True}, wait("menu")]


def book_first_slot() -> list[Step]:
    return [tap("book"), wait("slots"), {"do": "tap_row"}, wait("message")]


def pay_with_pin(pin: str = PIN) -> list[Step]:
    """On the booked message: pay now, card in, PIN on the pad."""
    return [tap("pay_now"), {"do": "bank_card"}, wait("pin", busy_ok=True), {"do": "pin", "keys": [*pin, "ENTER"]},
            wait("message")]
