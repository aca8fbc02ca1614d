"""Maintenance mode's presenter: hidden entry (five taps on the hospital name within 4 s),
technician sign-in, self-test, paper status, the master-key ceremony and log export."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kiosk.app.presenter import RunAsync, run_now
from kiosk.app.strings import label
from kiosk.epp import crypto as c
from kiosk.epp.driver import tdes_responder
from kiosk.errors import KioskDeviceError
from kiosk.flows.maintenance import KeyCeremony, MasterKeyLoader, PaperStatus, TechnicianGate, export_logs

SECRET_TAPS = 5
SECRET_WINDOW_S = 4.0
HEX_KEYS = frozenset("0123456789ABCDEF")
FIELD_LIMITS = {"tech_id": 12, "tech_pin": 12, "auth_key": 48, "component": 48, "kcv": 8, "combined_kcv": 8}


@dataclass
class MaintView:
    screen: str = ""                  # "", "tech_login", "maintenance", "ceremony"
    lang: str = "zh"
    fields: dict[str, str] = field(default_factory=dict)
    active_field: str = ""
    message: str = ""
    rows: list[str] = field(default_factory=list)   # self-test / paper / KCV lines
    custodian: int = 1
    custodians: int = 2

    def shown(self, name: str) -> str:
        """Secrets show as dots: PIN, keys and components never appear on the screen."""
        value = self.fields.get(name, "")
        return "●" * len(value) if name in ("tech_pin", "auth_key", "component") else value


class MaintenancePresenter:
    def __init__(self, gate: TechnicianGate, *, selftest: Callable[[], Sequence[tuple[str, bool, str]]],
                 paper: Callable[[], PaperStatus], pad: MasterKeyLoader | None, log_files: Callable[[], list[Path]],
                 export_dir: Path, run_async: RunAsync = run_now, clock: Callable[[], float] = time.monotonic,
                 master_slot: int = 1, master_algorithm: c.Algorithm = c.Algorithm.TDES) -> None:
        self.gate, self._selftest, self._paper, self._pad = gate, selftest, paper, pad
        self._log_files, self._export_dir, self._run_async, self._clock = log_files, export_dir, run_async, clock
        self._master_slot, self._master_algorithm = master_slot, master_algorithm
        self._taps: list[float] = []
        self._ceremony: KeyCeremony | None = None
        self.view = MaintView()
        self._listeners: list[Callable[[MaintView], None]] = []

    def subscribe(self, listener: Callable[[MaintView], None]) -> None:
        self._listeners.append(listener)

    def _show(self, screen: str, **changes: Any) -> None:
        self.view = replace(self.view, screen=screen, **changes)
        for listener in self._listeners:
            listener(self.view)

    def _t(self, key: str) -> str:
        return label(key, self.view.lang)

    @property
    def active(self) -> bool:
        return bool(self.view.screen)

    def secret_tap(self, lang: str) -> None:
        now = self._clock()
        self._taps = [t for t in self._taps if now - t <= SECRET_WINDOW_S] + [now]
        if len(self._taps) >= SECRET_TAPS:
            self._taps = []
            self.view = MaintView(lang=lang)
            self._show("tech_login", fields={"tech_id": "", "tech_pin": ""}, active_field="tech_id")

    def select_field(self, name: str) -> None:
        self._show(self.view.screen, active_field=name)

    def key(self, key: str) -> None:
        name = self.view.active_field
        value = self.view.fields.get(name, "")
        if key == "del":
            value = value[:-1]
        elif key == "clear":
            value = ""
        elif len(value) < FIELD_LIMITS[name] and (key.isdigit() or (key in HEX_KEYS and name not in
                                                                       ("tech_id", "tech_pin"))):
            value += key
        self._show(self.view.screen, fields={**self.view.fields, name: value})

    def sign_in(self) -> None:
        f = self.view.fields
        if self.gate.check(f.get("tech_id", ""), f.get("tech_pin", "")):
            self._show("maintenance", fields={}, message="", rows=[])
        else:
            self._show("tech_login", fields={**f, "tech_pin": ""},
                       message=self._t("tech_locked" if self.gate.locked else "tech_refused"))

    def exit(self) -> None:
        self._ceremony = None
        self.view = MaintView(lang=self.view.lang)
        self._show("")

    def run_selftest(self) -> None:
        def done(results: Sequence[tuple[str, bool, str]]) -> None:
            self._show("maintenance", rows=[f"{'OK   ' if ok else 'FAULT'} {dev}: {detail}"
                                            for dev, ok, detail in results], message=self._t("selftest"))
        self._show("maintenance", message=label("busy", self.view.lang))
        self._run_async(self._selftest, done)

    def show_paper(self) -> None:
        def done(status: PaperStatus) -> None:
            self._show("maintenance", rows=[f"receipt: {status.receipt}", f"A4: {status.a4}"], message=self._t("paper"))
        self._run_async(self._paper, done)

    def export(self) -> None:
        def work() -> str:
            dest = self._export_dir / f"mch-kiosk-logs-{dt.datetime.now():%Y%m%d-%H%M%S}.log"
            try:
                self._export_dir.mkdir(parents=True, exist_ok=True)
                return f"{export_logs(self._log_files(), dest)} lines -> {dest}"
            except OSError as exc:
                return f"export failed: {exc.strerror}"
        self._run_async(work, lambda text: self._show("maintenance", rows=[text], message=self._t("export_logs")))

    # --- key ceremony ------------------------------------------------------------------------
    def start_ceremony(self, custodians: int = 2, algorithm: c.Algorithm | None = None) -> None:
        """The algorithm is the kiosk's configured one ([app] master_key_algorithm) unless given."""
        self._ceremony = KeyCeremony(self._master_slot, algorithm or self._master_algorithm, custodians)
        self._show("ceremony", custodian=1, custodians=custodians, rows=[], message="", active_field="auth_key",
                   fields={"auth_key": "", "component": "", "kcv": "", "combined_kcv": ""})

    def accept_component(self) -> None:
        ceremony = self._ceremony
        if ceremony is None:
            return
        f = self.view.fields
        try:
            shown = ceremony.add_component(f.get("component", ""), f.get("kcv", ""))
        except ValueError as exc:
            self._show("ceremony", message=str(exc), fields={**f, "component": "", "kcv": ""})
            return
        rows = [*self.view.rows, f"{ceremony.entered}: KCV {shown}"]
        active = "combined_kcv" if ceremony.complete else "component"
        self._show("ceremony", rows=rows, custodian=min(ceremony.entered + 1, ceremony.custodians), message="",
                   fields={**f, "component": "", "kcv": ""}, active_field=active)

    def load_key(self) -> None:
        ceremony, pad = self._ceremony, self._pad
        if ceremony is None or pad is None:
            return
        f = self.view.fields
        try:
            respond = tdes_responder(bytes.fromhex(f.get("auth_key", "")))
        except ValueError:
            self._show("ceremony", message="authentication key must be hexadecimal")
            return

        def work() -> str:
            try:
                return "loaded, KCV " + ceremony.load(pad, respond, f.get("combined_kcv", ""))
            except (KioskDeviceError, ValueError) as exc:
                return f"refused: {getattr(exc, 'message', exc)}"

        def done(text: str) -> None:
            self._ceremony = None
            self._show("ceremony", rows=[*self.view.rows, text], message=text,
                       fields=dict.fromkeys(self.view.fields, ""))  # no key material kept on screen
        self._run_async(work, done)
