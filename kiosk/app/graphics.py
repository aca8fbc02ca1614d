"""Kivy rendering options of the kiosk, set before the window opens (the app, the bench and the UI
tests use the same ones, so what is measured and screenshot is what ships).

No multisampling: the screens are flat rectangles and text textures with nothing diagonal to
smooth, and 2x MSAA (Kivy's default) made each frame's swap cost 3-4x as much with a software
renderer (Mesa llvmpipe, as on the kiosks without a GPU and under Xvfb): 200 -> 55 ms per frame
on the loaded 2-core machine (docs/kiosk-app.md, bench/RESULTS.md).
"""

from __future__ import annotations

MULTISAMPLES = 0


def configure_rendering(multisamples: int = MULTISAMPLES) -> None:
    """Call before kivy.core.window is imported."""
    from kivy.config import Config

    Config.set("graphics", "multisamples", str(multisamples))
