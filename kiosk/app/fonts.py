"""The CJK font every Kivy label uses (Kivy's Roboto has no Han glyphs: boxes)."""

from __future__ import annotations

from pathlib import Path

CJK_FONTS = (Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
             Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"))


def cjk_font_path() -> Path:
    for path in CJK_FONTS:
        if path.is_file():
            return path
    raise FileNotFoundError("no CJK font: install fonts-wqy-microhei (scripts/apt/kiosk.txt)")


def register_default_font() -> Path:
    """Make the CJK font Kivy's default (`Roboto` is the name every Label uses)."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    path = str(cjk_font_path())
    LabelBase.register(DEFAULT_FONT, path, path, path, path)
    return Path(path)
