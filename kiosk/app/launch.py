"""`mch-kiosk run`: open the configured devices (or their simulators), join the hub over the
link (device bundle from provisioning), and start the Kivy app.

Kivy reads its configuration when first imported, so everything here that touches Kivy runs
inside `run()` in the right order: Config (window, touch input), then the font, then the app.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.app import demo_keys
from kiosk.app.settings import AppSettings
from kiosk.config import KioskConfig
from kiosk.errors import KioskDeviceError
from kiosk.flows.devices import FLOW_NEEDS, DeviceHealth, Devices
from kiosk.flows.redact import RedactingFilter
from kiosk.serial_transport import open_port

WINDOW_SIZE = (1280, 800)
LOG_FILE = "kiosk.log"
log = logging.getLogger(__name__)


@dataclass
class Opened:
    devices: Devices
    faults: dict[str, str]


@contextlib.contextmanager
def open_devices(config: KioskConfig, *, load_demo_keys: bool = False) -> Iterator[Opened]:
    """Every configured device with its real transport; one that cannot open is a fault, not a crash."""
    from kiosk.a4printer import A4Printer, PycupsClient
    from kiosk.bankcard import BankCardReader, PcscClient
    from kiosk.bankcard.slot import IoBoardSlot
    from kiosk.epp.driver import PinPad
    from kiosk.idcard.driver import IdCardReader
    from kiosk.ioboard.driver import IoBoard
    from kiosk.ioboard.keepalive import KeepAlive
    from kiosk.receipt.backends import PrinterConfig, open_printer
    from kiosk.receipt.driver import ReceiptPrinter

    faults: dict[str, str] = {}
    opened: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        def attempt(name: str, make: Any) -> None:
            try:
                opened[name] = make()
            except KioskDeviceError as exc:
                faults[name] = exc.message
                log.error("%s cannot be used: %s", name, exc)

        def serial(name: str, cfg: Any) -> Any:
            port = open_port(cfg.port, device=name, baudrate=cfg.baudrate)
            stack.callback(port.close)
            return port

        if config.idcard:
            attempt("idcard", lambda: IdCardReader(serial("idcard", config.idcard)))
        if config.epp:
            def pad() -> PinPad:
                driver = PinPad(serial("epp", config.epp))
                if load_demo_keys:
                    demo_keys.load_demo_keys(driver)
                return driver
            attempt("pinpad", pad)
        if config.ioboard:
            def board() -> IoBoard:
                driver = IoBoard(serial("ioboard", config.ioboard))
                stack.callback(KeepAlive(driver).start().stop)
                return driver
            attempt("motor", board)
        if config.receipt:
            r = config.receipt
            attempt("receipt", lambda: ReceiptPrinter(open_printer(PrinterConfig(
                kind=r.kind, url=r.url, baudrate=r.baudrate, usb_vendor=r.usb_vendor,  # type: ignore[arg-type]
                usb_product=r.usb_product, host=r.host, port=r.port)), name=r.url or r.host or r.kind))
        if config.bankcard:
            b = config.bankcard
            slot = IoBoardSlot(opened["motor"]) if "motor" in opened else None
            attempt("bankcard", lambda: BankCardReader(PcscClient(call_timeout_s=b.call_timeout_s),
                                                       reader_name=b.reader or None, slot=slot))
        if config.a4printer:
            a = config.a4printer
            attempt("a4", lambda: A4Printer(PycupsClient(a.server), a.queue, job_timeout_s=a.job_timeout_s))
        yield Opened(Devices(idcard=opened.get("idcard"), pinpad=opened.get("pinpad"),
                             bankcard=opened.get("bankcard"), motor=opened.get("motor"),
                             receipt=opened.get("receipt"), a4=opened.get("a4")), faults)


class LinkQueue:
    """Queued records go into the link's durable outbox (validated against their schema there)."""

    def __init__(self, link: Any) -> None:
        self._link = link

    def add(self, kind: str, schema: str, body: dict[str, Any], made_at_ms: int | None = None) -> int:
        from mch_link.topics import Kind

        return int(self._link.submit(Kind.RECORDS, schema, body, made_at_ms))


def _logging(settings: AppSettings) -> None:
    root = logging.getLogger()
    redact = RedactingFilter()
    for handler in root.handlers:
        handler.addFilter(redact)
    try:
        settings.log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(settings.log_dir / LOG_FILE, encoding="utf-8")
    except OSError as exc:
        log.warning("no log file in %s (%s); logging to stderr only", settings.log_dir, exc.strerror)
        return
    handler.addFilter(redact)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # the file keeps INFO (the start-up self-test, stops) for the technician; stderr stays as -v says
    for other in root.handlers:
        other.setLevel(max(other.level, root.getEffectiveLevel()))
    handler.setLevel(logging.INFO)
    root.setLevel(min(root.getEffectiveLevel(), logging.INFO))
    root.addHandler(handler)


def _configure_kivy(config: KioskConfig, windowed: bool) -> None:
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    # Kivy's own file log (KIVY_HOME/logs) hangs on the root logger without our redacting filter and
    # outside the log export: off. Kivy reads this once, at its import (any value turns it off).
    os.environ["KIVY_NO_FILELOG"] = "1"
    from kivy.config import Config

    Config.set("kivy", "exit_on_escape", "0")
    from kiosk.app.graphics import configure_rendering

    configure_rendering()
    if windowed:
        Config.set("graphics", "fullscreen", "0")
        Config.set("graphics", "width", str(WINDOW_SIZE[0]))
        Config.set("graphics", "height", str(WINDOW_SIZE[1]))
    else:
        Config.set("graphics", "fullscreen", "auto")
        Config.set("graphics", "borderless", "1")
        Config.set("graphics", "show_cursor", "0")
        # An X server without a window manager (the usual kiosk session) ignores SDL's fullscreen
        # request: the window stays at SDL's 800x600 in the middle while Kivy lays out for the whole
        # screen. Asking for the kiosk's screen size at the top-left corner fills the 1280x800 panel.
        Config.set("graphics", "position", "custom")
        Config.set("graphics", "left", "0")
        Config.set("graphics", "top", "0")
        Config.set("graphics", "width", str(WINDOW_SIZE[0]))
        Config.set("graphics", "height", str(WINDOW_SIZE[1]))
    if config.touch is not None and not windowed:
        from kiosk.touch import apply_kivy_input

        apply_kivy_input(config.touch)


def run(config: KioskConfig, settings: AppSettings, bundle: Path, *, simulate: bool = False, windowed: bool = False,
        broker: tuple[str, int] | None = None) -> int:
    """Run the kiosk until its window closes. `simulate`: the devices are simulators (demo keys)."""
    _logging(settings)
    _configure_kivy(config, windowed or simulate)
    from kiosk.app.fonts import register_default_font

    register_default_font()
    from kiosk.app.health import probe
    from kiosk.app.kivy_app import DeviceWorker, KioskApp
    from kiosk.app.maintenance_presenter import MaintenancePresenter
    from kiosk.app.presenter import KioskPresenter
    from kiosk.app.voice import EspeakVoice
    from kiosk.flows.maintenance import PaperStatus, TechnicianGate
    from kiosk.hospital.client import HubHospitalClient
    from mch_link.device import DeviceLink
    from mch_link.keys import KEYS_FILE, LinkKeys
    from mch_link.renewal import runner_for
    from mch_link.rpc import RpcClient

    with contextlib.ExitStack() as stack:
        pad_sim = None
        if simulate:
            from dataclasses import replace

            from kiosk.config import SerialDeviceConfig
            from kiosk.epp.simulator import start_on_pty
            from kiosk.simulation import simulated

            config = stack.enter_context(simulated(config)).config
            pad_sim = start_on_pty()  # our own, so the keyboard can stand for its keys
            stack.callback(pad_sim.stop)
            config = replace(config, epp=SerialDeviceConfig(port=pad_sim.port_url))
        opened = stack.enter_context(open_devices(config, load_demo_keys=simulate))
        link: DeviceLink | None = None

        def fault_changed(_: dict[str, str]) -> None:  # the hub's fleet sees it now, not at the next heartbeat
            if link is not None:
                link.report_state()
        health = DeviceHealth(opened.devices, on_change=fault_changed)
        for name, reason in opened.faults.items():
            health.fault(name, reason)
        self_test(health, opened.devices)  # before the link starts, so its birth state carries the faults
        link = DeviceLink.from_bundle(bundle, bundle / "outbox.sqlite3", broker=broker, faults=health.link_faults)
        keys = LinkKeys.read(bundle / KEYS_FILE)
        client = HubHospitalClient(RpcClient(link, keys.device_id, keys), link)
        link.on_command = runner_for(link, bundle, client.rpc).on_command  # the hub's `renew` command
        link.start()
        stack.callback(link.stop)
        worker = DeviceWorker()
        devices = opened.devices
        presenter = KioskPresenter(client, devices, settings, health=health, queue=LinkQueue(link), run_async=worker,
                                   voice=EspeakVoice() if settings.voice else (lambda text, lang: None))

        def selftest() -> list[tuple[str, bool, str]]:
            return [(name, fault is None, fault.reason if fault else "OK") for name, fault in probe(devices).items()]

        def paper() -> PaperStatus:
            receipt = devices.receipt.status().describe() if devices.receipt else "not installed"
            a4 = getattr(devices.a4, "status", None)
            return PaperStatus(receipt, a4().describe() if a4 else "not installed")

        maintenance = MaintenancePresenter(
            TechnicianGate(settings.technicians), selftest=selftest, paper=paper, pad=devices.pinpad,  # type: ignore[arg-type]
            log_files=lambda: sorted(settings.log_dir.glob(LOG_FILE + "*")), export_dir=settings.export_dir,
            run_async=worker, master_slot=demo_keys.MASTER_SLOT,
            master_algorithm=settings.master_key_algorithm)
        if pad_sim is not None:
            _keyboard_is_pin_pad(pad_sim)
        KioskApp(presenter, maintenance, worker).run()  # SIGTERM: SDL closes the window, run() returns
        log.info("kiosk app stopped")
    return 0


def self_test(health: DeviceHealth, devices: Devices) -> None:
    """Probe every device once at start and log the result a technician reads first: each device's
    verdict and the flows its faults stop (the others stay open)."""
    from kiosk.app.health import apply, probe

    results = probe(devices)
    apply(health, results)
    for name, fault in results.items():
        if fault is None:
            log.info("self-test: %s OK", name)
        else:
            log.warning("self-test: %s FAULT %s: %s", name, fault.code, fault.reason)
    for name, reason in sorted(health.snapshot().items()):
        if name not in results:
            log.warning("self-test: %s FAULT %s", name, reason)
    off = [flow for flow in FLOW_NEEDS if not health.available(flow)]
    if off:
        log.warning("self-test: flows off: %s", ", ".join(off))
    else:
        log.info("self-test: every flow available")


SIM_KEYS = {13: "ENTER", 271: "ENTER", 8: "CLEAR", 27: "CANCEL"}  # Return, keypad Enter, Backspace, Esc


def _keyboard_is_pin_pad(pad_sim: Any) -> None:
    """Simulation only: digits, Enter, Backspace (clear) and Esc (cancel) typed on the computer's
    keyboard are the customer's keys on the simulated PIN pad (the PIN never reaches the app)."""
    from kivy.core.window import Window

    def on_key(_window: Any, key: int, *_: Any) -> bool:
        name = chr(key) if 48 <= key <= 57 else str(key - 256) if 256 <= key <= 265 else SIM_KEYS.get(key)
        if name is None:
            return False
        pad_sim.press(name)
        return True
    Window.bind(on_key_down=on_key)
