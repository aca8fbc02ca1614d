"""The CJK font every label uses (Kivy's default Roboto has no Chinese glyphs)."""

from __future__ import annotations

from pathlib import Path

from fetal_monitor_station.errors import StationError

#: Debian packages fonts-wqy-microhei / fonts-noto-cjk (scripts/apt/station-ui.txt).
CJK_FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)


def cjk_font(explicit: Path | None = None) -> Path:
    for path in ((explicit,) if explicit else CJK_FONT_CANDIDATES):
        if path is not None and path.is_file():
            return path
    raise StationError(f"no CJK font found (tried {', '.join(map(str, CJK_FONT_CANDIDATES))}); "
                       "install fonts-wqy-microhei")
