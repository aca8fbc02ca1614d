"""Missing-glyph check inside a running Kivy process: a character whose rendering in the UI font is
pixel-identical to the rendering of a character the font certainly lacks (its .notdef box) is
missing. Uses Kivy's own text provider, i.e. the renderer the screens use."""

from __future__ import annotations

from collections.abc import Iterable

NOT_IN_ANY_FONT = "\U0010fffd"  # plane-16 private use: no UI font maps it


def _pixels(ch: str, font: str) -> tuple[tuple[int, int], bytes]:
    from kivy.core.text import Label as CoreLabel

    label = CoreLabel(text=ch, font_name=font, font_size=32)
    label.refresh()
    tex = label.texture
    return tuple(tex.size), bytes(tex.pixels)  # type: ignore[return-value]


def missing_glyphs(texts: Iterable[str], font: str) -> tuple[list[str], bool]:
    """(characters rendered as .notdef, whether the check can tell a real glyph from .notdef)."""
    notdef = _pixels(NOT_IN_ANY_FONT, font)
    sane = _pixels("胎", font) != notdef and _pixels("A", font) != notdef
    chars = sorted({c for t in texts for c in t if not c.isspace()})
    return [c for c in chars if _pixels(c, font) == notdef], sane
