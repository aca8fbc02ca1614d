"""The Kivy app: a ScreenManager (no transitions) with one .kv per screen. Screens only lay out
and bind to the app's properties; every tap calls one presenter intent. Import after Kivy's
Config is set (kiosk.app.launch does that)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any

from kivy.app import App
from kivy.clock import Clock, mainthread
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.properties import (
    BooleanProperty,
    DictProperty,
    ListProperty,
    NumericProperty,
    StringProperty,
)
from kivy.uix.screenmanager import NoTransition, Screen, ScreenManager

from kiosk.app.maintenance_presenter import MaintenancePresenter, MaintView
from kiosk.app.presenter import KioskPresenter, View
from kiosk.app.strings import LABELS

ELDER_SCALE = 1.3
TICK_S = 1.0
ID_POLL_S = 0.5
KV_FILES = ("chrome", "home", "number", "menu", "register", "screening", "card", "pin", "slots", "bindings",
            "message", "leave", "tech_login", "maintenance", "ceremony")


class HomeScreen(Screen): ...
class NumberScreen(Screen): ...
class MenuScreen(Screen): ...
class RegisterScreen(Screen): ...
class ScreeningScreen(Screen): ...
class CardScreen(Screen): ...
class PinScreen(Screen): ...
class SlotsScreen(Screen): ...
class BindingsScreen(Screen): ...
class MessageScreen(Screen): ...
class LeaveScreen(Screen): ...
class TechLoginScreen(Screen): ...
class MaintenanceScreen(Screen): ...
class CeremonyScreen(Screen): ...


SCREENS: dict[str, type[Screen]] = {
    "home": HomeScreen, "number": NumberScreen, "menu": MenuScreen, "register": RegisterScreen,
    "screening": ScreeningScreen, "card": CardScreen, "pin": PinScreen, "slots": SlotsScreen,
    "bindings": BindingsScreen, "message": MessageScreen, "leave": LeaveScreen, "tech_login": TechLoginScreen,
    "maintenance": MaintenanceScreen, "ceremony": CeremonyScreen,
}


class DeviceWorker:
    """One worker thread for all device and hub work (devices are never used concurrently);
    results come back on the Kivy thread."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kiosk-work")
        self.pending = 0
        self._lock = threading.Lock()

    def __call__(self, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        with self._lock:
            self.pending += 1

        def run() -> None:
            result = work()

            def deliver(_: float) -> None:
                with self._lock:
                    self.pending -= 1
                done(result)
            Clock.schedule_once(deliver)
        self._pool.submit(run)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class KioskApp(App):
    title = "MCH kiosk"
    lang = StringProperty("zh")
    large_text = BooleanProperty(False)
    scale = NumericProperty(1.0)
    tr = DictProperty()
    screen = StringProperty("home")
    message = StringProperty("")
    entry = StringProperty("")
    number_kind = StringProperty("medical_card")
    greeting = StringProperty("")
    preview = StringProperty("")
    countdown = StringProperty("")
    warning = BooleanProperty(False)
    busy = BooleanProperty(False)
    stars = NumericProperty(0)
    rows = ListProperty()
    fields = DictProperty()
    active_field = StringProperty("")
    actions = ListProperty()
    available = DictProperty()
    m_shown = DictProperty()
    m_active = StringProperty("")
    m_message = StringProperty("")
    m_rows = ListProperty()
    m_custodian = NumericProperty(1)
    m_custodians = NumericProperty(2)

    def __init__(self, presenter: KioskPresenter, maintenance: MaintenancePresenter, worker: DeviceWorker,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.p, self.m, self.worker = presenter, maintenance, worker
        self.sm: ScreenManager | None = None
        self._translate("zh")

    # --- Kivy lifecycle ---------------------------------------------------------------------
    def build(self) -> ScreenManager:
        for name in KV_FILES:
            Builder.load_string(resources.files("kiosk.app").joinpath(f"kv/{name}.kv").read_text("utf-8"),
                                filename=f"{name}.kv")
        Window.clearcolor = (1, 1, 1, 1)
        Window.bind(on_touch_down=lambda *_: self.p.touched())
        self.sm = ScreenManager(transition=NoTransition())
        for name, cls in SCREENS.items():
            self.sm.add_widget(cls(name=name))
        self.p.subscribe(self._on_view)
        self.m.subscribe(self._on_maint)
        Clock.schedule_interval(lambda _: self.p.tick(), TICK_S)
        Clock.schedule_interval(lambda _: self._poll(), ID_POLL_S)
        self._apply(self.p.view)
        self.p.check_devices()
        return self.sm

    def on_stop(self) -> None:
        self.worker.shutdown()

    def _poll(self) -> None:
        if not self.m.active and self.worker.pending == 0:
            self.p.poll_id_card()

    # --- view -> properties -------------------------------------------------------------------
    def _translate(self, lang: str) -> None:
        self.tr = {key: (zh if lang == "zh" else en) for key, (zh, en) in LABELS.items()}

    @mainthread
    def _on_view(self, view: View) -> None:
        self._apply(view)

    def _apply(self, view: View) -> None:
        if view.lang != self.lang:
            self.lang = view.lang
            self._translate(view.lang)
        self.large_text = view.large_text
        self.scale = ELDER_SCALE if view.large_text else 1.0
        self.message, self.entry, self.number_kind = view.message, view.entry, view.number_kind
        self.greeting, self.preview, self.busy, self.stars = view.greeting, view.preview, view.busy, view.stars
        self.rows, self.fields, self.active_field = list(view.rows), dict(view.fields), view.active_field
        self.actions, self.available = list(view.actions), dict(view.available)
        self.warning = view.warning
        self.countdown = self.tr["countdown"].format(s=view.countdown_s) if view.screen != "home" else ""
        self.screen = view.screen
        if self.sm is not None and not self.m.active:
            self.sm.current = view.screen

    @mainthread
    def _on_maint(self, view: MaintView) -> None:
        self.m_shown = {name: view.shown(name) for name in view.fields}
        self.m_active, self.m_message, self.m_rows = view.active_field, view.message, list(view.rows)
        self.m_custodian, self.m_custodians = view.custodian, view.custodians
        if self.sm is not None:
            self.sm.current = view.screen or self.p.view.screen

    # --- intents the kv calls (one call each) ---------------------------------------------------
    def key(self, key: str) -> None:
        (self.m.key if self.m.active else self.p.key)(key)

    def toggle_lang(self) -> None:
        self.p.toggle_lang()
        self.m.view.lang = self.p.view.lang

    def secret_tap(self) -> None:
        self.m.secret_tap(self.p.view.lang)

    def action(self, name: str) -> None:
        intents: dict[str, Callable[[], None]] = {
            "to_menu": self.p.to_menu, "pay_now": self.p.open_payment, "retry_pin": self.p.retry_pin,
            "leave": self.p.finish, "print_report": self.p.print_report, "register": self.p.open_register}
        if name in intents:
            intents[name]()
