"""Run in a subprocess under Xvfb: the kiosk app on the device simulators and the fake hospital,
driven by a JSON script of touches and device events; prints `REPORT <json>` at the end.

Touches are MotionEvents injected into Kivy's event loop at the button's centre, exactly where
a finger would land (no /dev/uinput on the test machines)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

from kivy.config import Config

Config.set("graphics", "width", "1280")
Config.set("graphics", "height", "800")
Config.set("kivy", "exit_on_escape", "0")
Config.set("input", "mouse", "mouse,disable_multitouch")
from kiosk.app.graphics import configure_rendering  # noqa: E402

configure_rendering()  # as the app ships

from kiosk.app.fonts import register_default_font  # noqa: E402

register_default_font()

from kivy.base import EventLoop  # noqa: E402
from kivy.clock import Clock  # noqa: E402
from kivy.core.window import Window  # noqa: E402
from kivy.input.motionevent import MotionEvent  # noqa: E402

from kiosk.a4printer import A4Printer, PycupsClient  # noqa: E402
from kiosk.a4printer.simulator import SimulatedA4Printer  # noqa: E402
from kiosk.app import demo_keys  # noqa: E402
from kiosk.app.kivy_app import DeviceWorker, KioskApp  # noqa: E402
from kiosk.app.launch import LinkQueue  # noqa: E402
from kiosk.app.maintenance_presenter import MaintenancePresenter  # noqa: E402
from kiosk.app.presenter import KioskPresenter  # noqa: E402
from kiosk.app.settings import AppSettings  # noqa: E402
from kiosk.epp import crypto as c  # noqa: E402
from kiosk.epp import simulator as epp_sim  # noqa: E402
from kiosk.epp.driver import PinPad  # noqa: E402
from kiosk.epp.protocol import Usage  # noqa: E402
from kiosk.flows.devices import DeviceHealth, Devices  # noqa: E402
from kiosk.flows.maintenance import PaperStatus, TechnicianGate, hash_credential  # noqa: E402
from kiosk.flows.pin import PinKeys  # noqa: E402
from kiosk.flows.redact import RedactingFilter  # noqa: E402
from kiosk.flows.session import IdleTimer  # noqa: E402
from kiosk.hospital.client import HubHospitalClient  # noqa: E402
from kiosk.idcard import simulator as id_sim  # noqa: E402
from kiosk.idcard.driver import IdCardReader  # noqa: E402
from kiosk.idcard.identity import parse_text_block  # noqa: E402
from kiosk.ioboard import simulator as board_sim  # noqa: E402
from kiosk.ioboard.driver import IoBoard  # noqa: E402
from kiosk.receipt import simulator as receipt_sim  # noqa: E402
from kiosk.receipt.backends import SerialEscpos  # noqa: E402
from kiosk.receipt.commands import PaperLevel, PrinterStatus  # noqa: E402
from kiosk.receipt.driver import ReceiptPrinter  # noqa: E402
from kiosk.serial_transport import open_port  # noqa: E402
from mch_link.device import DeviceLink  # noqa: E402
from mch_link.keys import KEYS_FILE, LinkKeys  # noqa: E402
from mch_link.outbox import Outbox  # noqa: E402
from mch_link.rpc import RpcClient  # noqa: E402
from tests.kiosk.app import real_bank_card, ui_checks  # noqa: E402
from tests.kiosk.bankcard.conftest import VIRTUAL_READER  # noqa: E402
from tests.kiosk.fake_hospital import FakeHospital  # noqa: E402
from tests.kiosk.flows.conftest import StubBankCardReader, card_data  # noqa: E402

TODAY = dt.date(2026, 12, 3)
STEP_TIMEOUT_S = 25.0
SETTLE_TICKS = 4
TECH_ID, TECH_PIN = "1001", "246810"
CUPS_SERVER = "localhost:631"
OUT_OF_PAPER = PrinterStatus(online=False, cover_open=False, paper=PaperLevel.OUT, cutter_error=False,
                             unrecoverable_error=False)
CARDS = {"valid": lambda: id_sim.valid_card(11), "expired": id_sim.expired_card, "bad": id_sim.bad_check_digit_card}


class Touch(MotionEvent):
    def __init__(self, uid: int, pos: tuple[float, float]) -> None:
        super().__init__("kiosk-test", uid, pos, is_touch=True, type_id="touch")

    def depack(self, args: tuple[float, float]) -> None:
        self.sx, self.sy = args
        self.profile = ["pos"]
        super().depack(args)


class FakeClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


class Driver:
    def __init__(self, spec: dict[str, Any], out: Path) -> None:
        self.spec, self.out = spec, out
        self.report: dict[str, Any] = {"shots": [], "steps": [], "voice": [], "error": None}
        self.id = id_sim.start_on_pty([])
        self.epp = epp_sim.start_on_pty()
        self.board = board_sim.start_on_pty()
        self.printer = receipt_sim.start_on_pty()
        self.ports = [open_port(h.port_url, device=n) for n, h in
                      (("idcard", self.id), ("epp", self.epp), ("ioboard", self.board), ("receipt", self.printer))]
        pad = PinPad(self.ports[1])
        demo_keys.load_demo_keys(pad)
        if spec.get("pin_key"):  # the acquirer's terminal PIN key (its own ceremony), sent under our master
            extra = [(3, Usage.PIN, bytes.fromhex(spec["pin_key"]))]
            if spec.get("tak"):  # and its terminal MAC key, over the demo one
                extra.append((demo_keys.TERMINAL_MAC_SLOT, Usage.MAC, bytes.fromhex(spec["tak"])))
            demo_keys.load_work_keys(pad, extra)
        self.motor = IoBoard(self.ports[2])
        # "pcsc": the product's reader over pcscd + vpcd, the card a virtual PBOC card (else a stub)
        self.hand = real_bank_card.CardHand() if spec.get("pcsc") else None
        self.pcsc = real_bank_card.pcsc_client() if self.hand else None
        self.bank: Any = (real_bank_card.product_reader(self.pcsc, self.motor, spec.get("reader", VIRTUAL_READER))
                          if self.pcsc else StubBankCardReader())
        self.id_number: str | None = None  # of the ID card placed last: her 9F61 where a step asks
        self.placed: list[str] = []  # name and ID number of every ID card placed, read off the card itself
        self.bank_holder = {"card": None}
        self.hospital = FakeHospital(today=TODAY)
        self.link: DeviceLink | None = None
        self.committed: list[tuple[str, str]] = []  # (kind, schema) of every record the link's outbox took
        services: Any = self.hospital
        if spec.get("hub"):  # the real thing: HubHospitalClient over the link, through broker and hub
            bundle = Path(spec["hub"]["bundle"])
            self.link = DeviceLink.from_bundle(bundle, out / "link-outbox.sqlite3", broker=tuple(spec["hub"]["broker"]))
            keys = LinkKeys.read(bundle / KEYS_FILE)
            services = HubHospitalClient(RpcClient(self.link, keys.device_id, keys), self.link)
            self._watch_link_outbox(self.link)
            self.link.start()
            deadline = time.monotonic() + 10
            while not self.link.stats.connected and time.monotonic() < deadline:
                time.sleep(0.05)
        self.remembered: list[str] = []
        self.handed_pans: list[str] = []  # every bank card the driver gave her: its PAN is hers too
        self.a4sim = SimulatedA4Printer(out / "a4", server=CUPS_SERVER) if spec.get("a4") else None
        a4 = A4Printer(PycupsClient(CUPS_SERVER), self.a4sim.queue) if self.a4sim else None
        devices = Devices(idcard=IdCardReader(self.ports[0]), pinpad=pad, bankcard=self.bank, motor=self.motor,
                          receipt=ReceiptPrinter(SerialEscpos(self.ports[3])), a4=a4)
        self.worker = DeviceWorker()
        self.clock = FakeClock()
        settings = AppSettings(technicians={TECH_ID: hash_credential(TECH_ID, TECH_PIN)},
                               terminal_id=spec.get("terminal", AppSettings.terminal_id),
                               pin_keys=PinKeys(3 if spec.get("pin_key") else 1, demo_keys.KEYS.mac_slot))
        self.health = DeviceHealth(devices)
        # with a hub the queue is the link's durable outbox, as `mch-kiosk run` has it; else a local one
        self.outbox = Outbox(out / "outbox.sqlite")
        queue: Any = LinkQueue(self.link) if self.link is not None else self.outbox
        self.presenter = KioskPresenter(services, devices, settings, health=self.health, run_async=self.worker,
                                        queue=queue,
                                        voice=lambda text, lang: self.report["voice"].append(lang),
                                        today=(lambda: TODAY) if not spec.get("hub") else dt.date.today,
                                        timer=IdleTimer(90, 20, clock=self.clock))
        self.maint = MaintenancePresenter(
            TechnicianGate(settings.technicians), selftest=lambda: [("idcard", True, devices.idcard.self_test())],  # type: ignore[union-attr]
            paper=lambda: PaperStatus(ReceiptPrinter(SerialEscpos(self.ports[3])).self_test(), "not installed"),
            pad=pad, log_files=lambda: [out / "kiosk.log"], export_dir=out / "export", run_async=self.worker)
        self.app = KioskApp(self.presenter, self.maint, self.worker)
        self.steps = list(spec["steps"])
        self.started = 0.0
        self.uid = 0
        self.settled = 0
        self.probed = False

    def _watch_link_outbox(self, link: DeviceLink) -> None:
        """Note each record the link's outbox commits: drained ones are deleted, the report keeps them."""
        add_many = link.outbox.add_many

        def noted(kind: str, schema: str, items: Any) -> list[int]:
            ids = add_many(kind, schema, items)
            self.committed += [(kind, schema)] * len(ids)
            return ids
        link.outbox.add_many = noted  # type: ignore[method-assign]

    # --- running ------------------------------------------------------------------------------
    def start(self, _: float) -> None:
        Clock.schedule_interval(self.advance, 0.05)

    def advance(self, _: float) -> bool:
        if not self.steps:
            self.finish()
            return False
        step = self.steps[0]
        if not self.started:
            self.started = time.monotonic()
        try:
            done = getattr(self, "do_" + step["do"])(step)
        except Exception:
            self.report["error"] = f"step {step}: {traceback.format_exc()}"
            self.finish()
            return False
        if done:
            self.report["steps"].append({"step": step, "screen": self.app.sm.current if self.app.sm else "",
                                         "message": self.app.message, "ms": round((time.monotonic() - self.started) * 1000)})
            self.steps.pop(0)
            self.started = 0.0
        elif time.monotonic() - self.started > STEP_TIMEOUT_S:
            self.report["error"] = (f"step {step} timed out on screen {self.app.sm.current if self.app.sm else ''}"
                                    f" message {self.app.message!r}")
            self.finish()
            return False
        return True

    def finish(self) -> None:
        if self.hand is not None:
            self.report["bank_cards"] = self.hand.report()
            self.hand.remove()
        if self.link is not None:
            self.report["link_drained"] = self.link.wait_drained(10)
            self.link.stop()
        self.report["hospital"] = {"charged_fen": self.hospital.charged_fen, "payments": len(self.hospital.payments),
                                   "records": len(self.hospital.records), "bindings": len(self.hospital.bindings),
                                   "verifications": len(self.hospital.verifications),
                                   "bookings": sorted(b.status for b in self.hospital.bookings.values()),
                                   "calls": self.hospital.calls}
        self.report["remembered"] = self.remembered
        # with a hub: every record committed to the link's outbox over the run (sent or not)
        self.report["outbox"] = (self.committed if self.link is not None
                                 else [(p.kind, p.schema) for p in self.outbox.pending()])
        self.report["outbox_bodies"] = [p.body for p in self.outbox.pending()] if self.link is None else []
        self.report["receipt"] = self.printer.decoded().text if self.printer.received else ""
        if self.a4sim is not None:
            self.report["a4"] = [subprocess.run(["pdftotext", "-layout", str(p), "-"], capture_output=True, text=True,
                                                check=True).stdout for p in sorted(self.a4sim.out_dir.iterdir())]
        self.app.stop()

    def idle(self) -> bool:
        return self.worker.pending == 0 and not self.app.busy

    @property
    def root(self) -> Any:
        return self.app.sm.current_screen if self.app.sm else Window

    # --- steps ----------------------------------------------------------------------------------
    def do_wait_screen(self, step: dict[str, Any]) -> bool:
        return (self.app.sm is not None and self.app.sm.current == step["screen"]
                and (self.idle() or step.get("busy_ok", False)))

    def do_wait_message(self, step: dict[str, Any]) -> bool:
        return bool(self.app.message) and self.idle()

    def do_wait_warning(self, step: dict[str, Any]) -> bool:
        return self.app.warning

    def do_probe(self, step: dict[str, Any]) -> bool:
        """Between patients the kiosk probes its devices; run that now and wait for it."""
        if not self.probed:
            self.presenter.check_devices()
            self.probed = True
            return False
        if not self.idle():
            return False
        self.probed = False
        return True

    def do_wait_idle(self, step: dict[str, Any]) -> bool:
        return self.idle()

    def do_tap(self, step: dict[str, Any]) -> bool:
        if not (self.idle() or step.get("busy_ok")):  # busy_ok: Cancel while the PIN pad waits
            return False
        label = step.get("text") or self.app.tr[step["label"]] + step.get("suffix", "")
        button = ui_checks.find_button(self.root, label)
        if button is None:
            return False
        x, y = button.to_window(*button.center)
        self.uid += 1
        touch = Touch(self.uid, (x / Window.width, y / Window.height))
        EventLoop.post_dispatch_input("begin", touch)
        EventLoop.post_dispatch_input("end", touch)
        return True

    def do_keys(self, step: dict[str, Any]) -> bool:
        """Type on the on-screen keypad: one tap per key, in order, right after this step."""
        self.steps[1:1] = [{"do": "tap", "text": key} for key in step["keys"]]
        return True

    def do_tap_row(self, step: dict[str, Any]) -> bool:
        """Tap the n-th row of the screen's list (slots, bindings)."""
        rows = [w for w in ui_checks.visible(self.root) if hasattr(w, "slot_id") or hasattr(w, "binding_id")]
        rows.sort(key=lambda w: -w.to_window(*w.pos)[1])
        if not self.idle() or len(rows) <= step.get("n", 0):
            return False
        return self.do_tap({"text": rows[step.get("n", 0)].text})

    def do_shot(self, step: dict[str, Any]) -> bool:
        if not (self.idle() or step.get("busy_ok")) or self.app.sm.current != step.get("screen", self.app.sm.current):
            return False
        self.settled += 1
        if self.settled < SETTLE_TICKS or self.app.sm.transition.is_active:  # let the frame with the new screen draw
            return False
        self.settled = 0
        path = Path(Window.screenshot(name=str(self.out / f"{step['name']}.png")))
        final = self.out / f"{step['name']}.png"
        path.rename(final)
        self.report["shots"].append({"name": step["name"], "path": str(final), "screen": self.app.sm.current,
                                     "texts": ui_checks.texts(self.root),
                                     "missing": ui_checks.missing_glyphs(self.root),
                                     "layout": ui_checks.layout_problems(self.root, Window.size),
                                     "min_font": ui_checks.min_font_size(self.root),
                                     **ui_checks.size_problems(self.root)})
        return True

    def do_place_id(self, step: dict[str, Any]) -> bool:
        card = CARDS[step["card"]]()
        self.id.sim.place(card)
        identity = parse_text_block(card.text)
        self.id_number = identity.id_number
        self.placed += [s for s in (identity.name, identity.id_number) if s not in self.placed]
        if step.get("known"):
            self.hospital.add_patient(identity.id_number, identity.name, identity.birth_date)
        return True

    def do_lift_id(self, step: dict[str, Any]) -> bool:
        self.id.sim.lift()
        return True

    def do_bank_card(self, step: dict[str, Any]) -> bool:
        if self.hand is not None:
            return self._insert_real_card(step)
        card = card_data(step.get("profile", "no-id"))
        if self.spec.get("card_pan"):
            card = replace(card, pan=self.spec["card_pan"], expiry=dt.date(2030, 12, 31))
        self.bank.card = card if step.get("in", True) else None
        if self.bank.card is not None and card.pan not in self.handed_pans:
            self.handed_pans.append(card.pan)
        if self.bank.card is not None and not self.motor.heartbeat().card_inside:  # the slot draws it in
            self.board.board.insert_card()
            self.motor.accept_card(5)
        return True

    def _insert_real_card(self, step: dict[str, Any]) -> bool:
        """Her card into the vpcd reader (kept if it is still in: the payment after signing), then the
        slot draws it in. `"holder": "her"`: the chip's 9F61 is her ID card's number."""
        assert self.hand is not None
        if not self.hand.inserted:
            holder = self.id_number if step.get("holder") == "her" else None
            profile = real_bank_card.card_profile(step.get("profile", "no-id"), pan=self.spec.get("card_pan"),
                                                  holder_id=holder)
            self.hand.insert(profile)
            if profile.pan not in self.handed_pans:
                self.handed_pans.append(profile.pan)
        if not self.hand.connected():  # next tick; the step's timeout says if pcscd never takes it
            return False
        if not self.motor.heartbeat().card_inside:
            self.board.board.insert_card()
            self.motor.accept_card(5)
        return True

    def do_pin(self, step: dict[str, Any]) -> bool:
        if self.app.sm.current != "pin":
            return False
        time.sleep(0.2)  # the PIN entry command reaches the pad
        self.epp.press(*step["keys"])
        return True

    def do_expire_pin(self, step: dict[str, Any]) -> bool:
        """Nobody types: the pad's own entry timer runs out (as after its 30 s)."""
        if self.app.sm.current != "pin":
            return False
        time.sleep(0.2)  # the PIN entry command reaches the pad
        self.epp.device._deadline = 0.0
        return True

    def do_expect_pin(self, step: dict[str, Any]) -> bool:
        """The acquirer side knows her PIN: only its block (under the demo PIN key) is right."""
        pan12 = c.pan_field(card_data(step.get("profile", "no-id")).pan)
        self.hospital.correct_pin_blocks = {c.encrypted_pin_block(step["pin"], pan12, 0, c.Algorithm.TDES,
                                                                  demo_keys.PIN_KEY)}
        return True

    def do_lock_pad(self, step: dict[str, Any]) -> bool:
        self.epp.device.failures = self.epp.device.max_auth_failures
        return True

    def do_pull_bank_card(self, step: dict[str, Any]) -> bool:
        """Pulled off the contacts: with "pcsc" a vpcd removal (the board's sensors are left as they are)."""
        if self.hand is not None:
            self.hand.remove()
        else:
            self.bank.card = None
        return True

    def do_note(self, step: dict[str, Any]) -> bool:
        """Record what the patient sees now (screen + message) under a name."""
        if not (self.idle() or step.get("busy_ok")):
            return False
        self.report.setdefault("notes", {})[step["name"]] = {"screen": self.app.sm.current,
                                                             "message": self.app.message,
                                                             "texts": ui_checks.texts(self.root)}
        return True

    def do_hospital(self, step: dict[str, Any]) -> bool:
        for name, value in step["set"].items():
            setattr(self.hospital, name, value)
        return True

    def do_printer_out(self, step: dict[str, Any]) -> bool:
        self.printer.status = OUT_OF_PAPER
        return True

    def do_take_card(self, step: dict[str, Any]) -> bool:
        taken = self.board.board.remove_card()
        if taken and self.hand is not None:
            self.hand.remove()
        return taken

    def do_remember(self, step: dict[str, Any]) -> bool:
        """What is hers: the name and ID number of every ID card placed and the PAN of every bank card
        handed out (the driver's own knowledge), and what her session holds now (added to before)."""
        found = [*self.remembered, *self.placed, *self.presenter.session.personal_strings(), *self.handed_pans]
        self.remembered = list(dict.fromkeys(found))
        return True

    def do_advance_idle(self, step: dict[str, Any]) -> bool:
        self.clock.offset += step["s"]
        return True

    def do_lang(self, step: dict[str, Any]) -> bool:
        if self.presenter.view.lang != step["lang"]:
            self.app.toggle_lang()
        return True

    def do_scan(self, step: dict[str, Any]) -> bool:
        """Privacy: every widget of every screen, the log file, the files the run left behind."""
        if not self.idle():
            return False
        self.do_remember(step)  # the cards handed out since the last remember are scanned too
        hits = []
        for screen in self.app.sm.screens:
            for text in ui_checks.texts(screen):
                hits += [f"widget on {screen.name}" for s in self.remembered if s in text]
        for shot in self.report["shots"]:  # what each screenshot showed (taken before or after she left)
            hits += [f"shot {shot['name']}" for s in self.remembered if any(s in t for t in shot["texts"])]
        log_text = (self.out / "kiosk.log").read_text("utf-8", errors="replace")
        hits += ["log" for s in self.remembered if s in log_text]
        kept = []  # `queued`: the outbox keeps her queued registration for the hub, as it must
        for path in self.out.rglob("*"):
            if path.is_file() and path.suffix != ".png" and path.name != "kiosk.log":
                data = path.read_bytes()
                if path.suffix == ".pdf":  # PDF text is glyph ids: read it the way a person would
                    data = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True).stdout
                found = [f"file {path.name}" for s in self.remembered if s.encode() in data]
                if step.get("queued") and path.name.startswith("outbox.sqlite"):
                    kept += found
                else:
                    hits += found
        hits += ["presenter view" for s in self.remembered if s in repr(self.presenter.view)]
        self.report["privacy_hits"] = hits
        self.report["kept_for_hub"] = kept
        self.report["session_after"] = self.presenter.session.personal_strings()
        return True


def main() -> int:
    spec = json.loads(sys.argv[1])
    out = Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out / "kiosk.log", encoding="utf-8")
    handler.addFilter(RedactingFilter())
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.DEBUG)
    driver = Driver(spec, out)
    Clock.schedule_once(driver.start, 1.0)
    driver.app.run()
    for port in driver.ports:
        port.close()
    if driver.pcsc is not None:
        driver.pcsc.release()
    for sim in (driver.id, driver.epp, driver.board, driver.printer, driver.a4sim):
        if sim is not None:
            sim.stop()
    print("REPORT " + json.dumps(driver.report, ensure_ascii=False))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
