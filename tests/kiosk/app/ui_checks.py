"""Checks on the live Kivy widget tree: visible texts, missing glyphs (a character that renders
exactly like the font's .notdef box), touch-target and text sizes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kivy.core.text import Label as CoreLabel
from kivy.metrics import dp
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.widget import Widget

NOTDEF_PROBE = "\U0010fffd"   # a private-use code point no font maps: renders as .notdef
MIN_TARGET_DP = 60
MIN_TEXT_DP = 18
_cache: dict[str, bytes] = {}


def render(ch: str) -> bytes:
    if ch not in _cache:
        label = CoreLabel(text=ch, font_size=48)
        label.refresh()
        _cache[ch] = bytes(label.texture.pixels)
    return _cache[ch]


def is_missing(ch: str) -> bool:
    return not ch.isspace() and render(ch) == render(NOTDEF_PROBE)


def visible(root: Widget) -> Iterator[Widget]:
    stack = [root]
    while stack:
        widget = stack.pop()
        if widget.opacity == 0:
            continue
        yield widget
        stack.extend(widget.children)


def texts(root: Widget) -> list[str]:
    return [w.text for w in visible(root) if isinstance(w, Label) and w.text]


def missing_glyphs(root: Widget) -> list[str]:
    return sorted({ch for text in texts(root) for ch in text if is_missing(ch)})


def size_problems(root: Widget) -> dict[str, list[Any]]:
    small_targets, small_text = [], []
    for w in visible(root):
        if isinstance(w, Button) and not w.disabled and (w.width < dp(MIN_TARGET_DP) or w.height < dp(MIN_TARGET_DP)):
            small_targets.append([w.text[:30], round(w.width), round(w.height)])
        if isinstance(w, Label) and w.text and w.font_size < dp(MIN_TEXT_DP):
            small_text.append([w.text[:30], w.font_size])
    return {"small_targets": small_targets, "small_text": small_text}


def _rect(w: Widget) -> tuple[float, float, float, float]:
    x, y = w.to_window(*w.pos)
    return x, y, x + w.width, y + w.height


def _parents(w: Widget) -> Iterator[Widget]:
    parent = w.parent
    while parent is not None and parent is not parent.parent:  # the Window is its own parent
        yield parent
        parent = parent.parent


def _inside_list(w: Widget) -> bool:
    return any(type(p).__name__ == "RecycleView" for p in _parents(w))


def _ancestor(a: Widget, b: Widget) -> bool:
    return any(p is a for p in _parents(b))


def layout_problems(root: Widget, window_size: tuple[float, float], slack_px: float = 2) -> list[str]:
    """Texts and buttons drawn off the window or on top of each other (a layout that overflowed)."""
    items = [w for w in visible(root) if isinstance(w, Label) and w.text and not _inside_list(w)]
    problems = []
    for w in items:
        x0, y0, x1, y1 = _rect(w)
        if x0 < -slack_px or y0 < -slack_px or x1 > window_size[0] + slack_px or y1 > window_size[1] + slack_px:
            problems.append(f"off screen: {w.text[:20]!r}")
    for i, a in enumerate(items):
        ax0, ay0, ax1, ay1 = _rect(a)
        for b in items[i + 1:]:
            if _ancestor(a, b) or _ancestor(b, a):
                continue
            bx0, by0, bx1, by1 = _rect(b)
            if min(ax1, bx1) - max(ax0, bx0) > slack_px and min(ay1, by1) - max(ay0, by0) > slack_px:
                problems.append(f"overlap: {a.text[:20]!r} / {b.text[:20]!r}")
    return problems + _under_scroll_bars(root, slack_px)


def _under_scroll_bars(root: Widget, slack_px: float) -> list[str]:
    """Buttons of a list that scrolls and that reach under its (touchable, wide) scroll bar on the right."""
    problems = []
    for view in visible(root):
        if type(view).__name__ != "RecycleView" or not view.children or view.children[0].height <= view.height:
            continue
        bar_left = _rect(view)[2] - view.bar_width - view.bar_margin
        for w in visible(view):
            if isinstance(w, Button) and w.text and _rect(w)[2] > bar_left + slack_px:
                problems.append(f"under the scroll bar: {w.text[:20]!r}")
    return problems


def min_font_size(root: Widget) -> float:
    return min((w.font_size for w in visible(root) if isinstance(w, Label) and w.text), default=0.0)


def find_button(root: Widget, text: str) -> Button | None:
    """The visible, enabled button whose text is `text` (or starts with it)."""
    candidates = [w for w in visible(root) if isinstance(w, Button) and not w.disabled and w.text]
    exact = [w for w in candidates if w.text == text]
    return (exact or [w for w in candidates if w.text.startswith(text)] or [None])[0]
