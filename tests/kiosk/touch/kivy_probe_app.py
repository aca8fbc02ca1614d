"""Run in a subprocess under Xvfb by test_touch_ui: configure touch input the kiosk way, start a
Kivy app, report the input providers Kivy built, inject touches and report what the widget got."""

from __future__ import annotations

import json
import sys

from kiosk.touch import TouchConfig, apply_kivy_input

WINDOW_W, WINDOW_H = 400, 300


def main() -> None:
    config = TouchConfig(**json.loads(sys.argv[1]))
    applied = apply_kivy_input(config)

    from kivy.config import Config

    Config.set("graphics", "width", str(WINDOW_W))
    Config.set("graphics", "height", str(WINDOW_H))
    Config.set("graphics", "resizable", "0")

    from kivy.app import App
    from kivy.base import EventLoop
    from kivy.clock import Clock
    from kivy.input.motionevent import MotionEvent
    from kivy.uix.widget import Widget

    class InjectedTouch(MotionEvent):
        def __init__(self, device: str, uid: int, args: tuple[float, float]) -> None:
            super().__init__(device, uid, args, is_touch=True, type_id="touch")

        def depack(self, args: tuple[float, float]) -> None:
            self.sx, self.sy = args
            self.profile = ["pos"]
            super().depack(args)

    class Pad(Widget):
        def __init__(self, **kwargs: object) -> None:
            super().__init__(**kwargs)
            self.events: list[tuple[str, float, float]] = []

        def on_touch_down(self, touch: MotionEvent) -> bool:
            self.events.append(("down", *touch.pos))
            return True

        def on_touch_move(self, touch: MotionEvent) -> bool:
            self.events.append(("move", *touch.pos))
            return True

        def on_touch_up(self, touch: MotionEvent) -> bool:
            self.events.append(("up", *touch.pos))
            return True

    class ProbeApp(App):
        def build(self) -> Widget:
            self.pad = Pad()
            return self.pad

        def on_start(self) -> None:
            Clock.schedule_once(self.inject, 0.3)

        def inject(self, _dt: float) -> None:
            providers = [{"type": type(p).__name__, "input_fn": getattr(p, "input_fn", None),
                          "ranges": getattr(p, "default_ranges", None),
                          "mouse_yields": getattr(p, "disable_on_activity", None)}
                         for p in EventLoop.input_providers]
            touch = InjectedTouch("probe", 1, (0.25, 0.75))
            EventLoop.post_dispatch_input("begin", touch)
            touch.move((0.5, 0.5))
            EventLoop.post_dispatch_input("update", touch)
            EventLoop.post_dispatch_input("end", touch)
            second = InjectedTouch("probe", 2, (0.9, 0.1))
            EventLoop.post_dispatch_input("begin", second)
            EventLoop.post_dispatch_input("end", second)
            report = {"entries": applied.entries, "providers": providers, "events": self.pad.events,
                      "window": list(EventLoop.window.size)}
            print("PROBE " + json.dumps(report), flush=True)
            self.stop()

    ProbeApp().run()


if __name__ == "__main__":
    main()
