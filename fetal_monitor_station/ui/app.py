"""The Kivy application of the nurses' central station (thin: state lives in NurseStation).

`run_ui(...)` configures Kivy (before any Kivy import that opens a window), registers the CJK
font as the default, loads one .kv per screen and refreshes everything at 4 Hz from the clock.
"""

from __future__ import annotations

import os
import time as _time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fetal_monitor_station.episodes import Episode
from fetal_monitor_station.errors import StationError
from fetal_monitor_station.ui.controller import NurseStation, Snapshot
from fetal_monitor_station.ui.i18n import Texts
from fetal_monitor_station.ui.pacing import Pacer
from fetal_monitor_station.ui.rendering import MULTISAMPLES, configure_rendering

KV_DIR = Path(__file__).with_name("kv")
KV_FILES = ("shell.kv", "overview.kv", "detail.kv", "alarms.kv", "admit.kv", "archive.kv")
REFRESH_S = 0.25  # 4 Hz, the monitors' sample rate
MAX_FPS = 10  # nothing on the central screen animates: frames only follow the 4 Hz data
SCREENS = ("overview", "detail", "alarms", "admit", "archive")


def configure_kivy(width: int, height: int, fullscreen: bool, multisamples: int = MULTISAMPLES) -> None:
    """Kivy's options for the nurse screen; `multisamples` other than the default only for baselines."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    configure_rendering(multisamples)

    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    Config.set("graphics", "resizable", "0")
    Config.set("graphics", "maxfps", str(MAX_FPS))
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,multitouch_on_demand")


def build_app(controller: NurseStation, font: Path, lang: str = "zh",
              clock: Callable[[], float] = _time.time, sound: Any = None) -> Any:
    """The App instance (Kivy must be configured first)."""
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.core.text import LabelBase
    from kivy.factory import Factory
    from kivy.lang import Builder
    from kivy.properties import ListProperty, StringProperty
    from kivy.uix.boxlayout import BoxLayout

    from fetal_monitor_station.ui import kivy_screens, kivy_widgets

    LabelBase.register("Roboto", str(font), str(font), str(font), str(font))
    for name in ("CtgPaper", "MiniTrace", "BedTile", "AlarmRow"):
        Factory.register(name, cls=getattr(kivy_widgets, name))

    class Shell(BoxLayout):
        pass

    Factory.register("Shell", cls=Shell)
    for kv in KV_FILES:
        Builder.load_file(str(KV_DIR / kv))

    initial_lang = lang

    class NurseApp(App):
        lang = StringProperty(initial_lang)
        clock_text = StringProperty("")
        hub_text = StringProperty("")
        clinical_text = StringProperty("")
        clinical_colour = ListProperty([1, 1, 1, 1])
        technical_text = StringProperty("")
        silence_text = StringProperty("")
        message = StringProperty("")

        def __init__(self, **kw: Any) -> None:
            super().__init__(**kw)
            self.controller = controller
            self.texts = Texts(initial_lang)
            self.sound = sound
            self.last_snapshot: Snapshot | None = None

        def controller_clock(self) -> float:
            return clock()

        def tr(self, key: str, _lang: str, **kw: Any) -> str:
            return self.texts(key, **kw)

        def build(self) -> Any:
            self.title = self.texts("title")
            self.shell = Shell()
            sm = self.shell.ids.sm
            for name, cls in (("overview", kivy_screens.OverviewScreen), ("detail", kivy_screens.DetailScreen),
                              ("alarms", kivy_screens.AlarmsScreen), ("admit", kivy_screens.AdmitScreen),
                              ("archive", kivy_screens.ArchiveScreen)):
                sm.add_widget(cls(name=name))
            from kivy.uix.screenmanager import NoTransition

            sm.transition = NoTransition()
            pacer = Pacer(REFRESH_S, _time.monotonic())

            def tick(_dt: float) -> None:  # every clock tick (at most MAX_FPS a second); no frame by itself
                if pacer.due(_time.monotonic()):
                    self.refresh()

            Clock.schedule_interval(tick, 0)  # (a callback returning False would be unscheduled)
            return self.shell

        def on_start(self) -> None:
            self.refresh()

        def screen(self, name: str) -> Any:
            return self.shell.ids.sm.get_screen(name)

        def show(self, name: str) -> None:
            self.shell.ids.sm.current = name
            self.refresh()

        def toggle_language(self) -> None:
            self.texts.toggle()
            self.lang = self.texts.lang
            self.refresh()

        def set_nurse(self, text: str) -> None:
            self.controller.nurse_id = text.strip()

        def nurse_card(self) -> None:
            """Nurse id from her card on the reader (read off the UI thread)."""
            self.message = self.texts("reading_card")
            kivy_screens.off_ui_thread(self.controller.nurse_from_card, self.nurse_card_done)

        def nurse_card_done(self, nurse: str | None, error: str | None) -> None:
            if nurse is None:
                self.message = self.texts("error", msg=error or "")
                return
            self.shell.ids.nurse.text = nurse  # shown and, through on_text, the id actions use
            self.message = ""

        def run_action(self, action: Callable[[NurseStation], Any]) -> Any:
            """A nurse action: errors become the message line, never a crash."""
            if not self.controller.nurse_id:
                self.message = self.texts("need_nurse")
                return None
            try:
                out = action(self.controller)
            except (StationError, ValueError) as exc:
                self.message = self.texts("error", msg=str(exc))
                return None
            self.message = ""
            self.refresh()
            return out

        def acknowledge(self, alarm_id: str) -> None:
            self.run_action(lambda c: c.acknowledge(alarm_id))

        def acknowledge_top(self) -> None:
            top = next((a for a in self.controller.board.clinical() if a.acked_by is None), None)
            if top is not None:
                self.acknowledge(top.alarm_id)

        def silence(self) -> None:
            self.run_action(lambda c: c.silence())

        def open_bed(self, bed_id: str) -> None:
            ep = self.controller.station.book.current(bed_id)
            if ep is None:
                self.show("admit")
                return
            self.open_episode(ep)

        def open_episode(self, episode: Episode) -> None:
            self.shell.ids.sm.current = "detail"
            self.screen("detail").open(episode)
            self.refresh()

        def print_report(self, episode: Episode, start_s: float, end_s: float) -> None:
            done = self.run_action(lambda c: c.print_report(episode, start_s, end_s))
            if done is not None:
                self.message = self.texts("printed", name=done.pdf_path.name)

        def print_episode(self, episode: Episode) -> None:
            end = episode.discharged_ms / 1000 if episode.discharged_ms else clock()
            self.print_report(episode, max(episode.admitted_s, end - 20 * 60), end)

        def refresh(self) -> None:
            snap = self.last_snapshot = self.controller.refresh()
            t = self.texts
            self.clock_text = _time.strftime("%H:%M:%S", _time.localtime(clock()))
            hub = snap.hub
            self.hub_text = (t("hub_down", since=hub.since, waiting=hub.waiting) if hub.state == "down"
                             else t("hub_local") if hub.state == "local" else "")
            board = self.controller.board
            clinical = [a for a in board.clinical() if a.acked_by is None]
            self.clinical_text = "   ".join(
                f"{a.bed_id} {t(a.kind)}" + (f" ({t('resolved')})" if a.latched else "")
                + (f" {t('escalated')}" if a.escalated_at_s else "") for a in clinical[:4])
            self.clinical_colour = list(clinical[0].colour) if clinical else [1, 1, 1, 1]
            self.technical_text = "   ".join(f"{a.bed_id} {t(a.kind)}" for a in board.technical()[:5])
            left = board.silenced_for_s()
            self.silence_text = t("silenced", s=int(left)) if left else t("silence")
            if self.sound is not None:
                self.sound.set_priority(snap.audio_priority)
            current = self.shell.ids.sm.current
            if current == "detail":
                self.screen("detail").update()
            else:
                self.screen(current).show(snap)

    return NurseApp()
