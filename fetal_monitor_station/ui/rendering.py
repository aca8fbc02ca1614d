"""Kivy rendering options of the nurse screen, set before the window opens. The app
(`mch-station ui`), the screenshot tests and bench.station_ui all go through `configure_kivy`, which
applies these, so what is measured and screenshot is what ships.

No multisampling. The central station has no GPU: Mesa's software renderer (llvmpipe, also under
Xvfb) rasterises every frame, and the frame swap was 63 % of the UI thread with Kivy's default 2x
MSAA, a cost that grows with samples per pixel. CTG traces stay readable aliased: the paper and
tile traces are 1-1.5 px lines, as bedside monitors draw them (bench/RESULTS.md, station_ui).
"""

from __future__ import annotations

MULTISAMPLES = 0


def configure_rendering(multisamples: int = MULTISAMPLES) -> None:
    """Call before kivy.core.window is imported (a window already open keeps its setting)."""
    if multisamples < 0:
        raise ValueError(f"multisamples must be >= 0, got {multisamples}")
    from kivy.config import Config

    Config.set("graphics", "multisamples", str(multisamples))
