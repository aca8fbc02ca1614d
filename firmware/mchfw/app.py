"""Wiring: bundle + board -> outbox, counters, MQTT session, link, CTG bridge.

Device: main.py calls run_ctg("/bundle"). Unix port:
    micropython -m mchfw.app <bundle_dir> <state_dir> <uart_path> [run_ms]
"""

import socket
import sys

from mchfw import clock as clock_mod
from mchfw import commands as commands_mod
from mchfw import config, corometrics, counters, fwfloor, fwupdate, hw, link, mqtt, outbox, robust, update
from mchfw.ctg_bridge import CtgBridge
from mchfw.store import Store

SOCKET_TIMEOUT_S = 5
WATCHDOG_MS = 30000
KEEPALIVE_S = 30
RESET_DELAY_MS = 1000  # a requested reset waits this long, so the answer in the state message goes out
DEFAULT_BOARD = "esp32"


def stream_opener(board, cfg):
    cert, key, ca = cfg.tls_material()
    ctx = hw.tls_context(cert, key, ca)
    server_name = cfg.broker_tls_name

    def open_stream():
        addr = socket.getaddrinfo(cfg.broker_host, cfg.broker_port)[0][-1]
        s = socket.socket()
        try:
            s.settimeout(SOCKET_TIMEOUT_S)
            s.connect(addr)
            return board.tls_wrap(s, ctx, server_name)
        except BaseException:
            s.close()
            raise

    return open_stream


def build(bundle: str, board, alarm=None):
    cfg = config.Config(bundle)
    ctrs = counters.Counters(board.flash_root + "/counters")
    opts = cfg.raw.get("outbox", {})
    box = outbox.Outbox(board.flash_root + "/outbox", ctrs,
                        opts.get("max_bytes", outbox.DEFAULT_MAX_BYTES),
                        opts.get("segment_bytes", outbox.DEFAULT_SEGMENT_BYTES), alarm)
    clk = clock_mod.Clock()
    client = mqtt.Client(cfg.device_id, KEEPALIVE_S, clean_session=False)
    session = robust.Robust(client, stream_opener(board, cfg))
    cmds = commands_mod.Commands(Store(board.flash_root + "/commands"))
    lnk = link.Link(cfg, box, ctrs, session, clk, heartbeat_ms=cfg.bridge.get("heartbeat_ms", 30000), commands=cmds)
    return cfg, box, lnk, clk


class Resetter:
    """A reset asked for by a command or the updater, done RESET_DELAY_MS later from the main loop."""

    def __init__(self, board, clock) -> None:
        self.board, self.clock = board, clock
        self.at: int | None = None

    def request(self) -> None:
        if self.at is None:
            self.at = clock_mod.add(self.clock.ticks(), RESET_DELAY_MS)

    def step(self, lnk) -> None:
        if self.at is not None and clock_mod.diff(self.clock.ticks(), self.at) >= 0:
            lnk.robust.service(0)  # let the last PUBACKs in
            print("reset")
            self.board.reset()


def updates(cfg, board, lnk, clk, resetter: Resetter) -> fwupdate.Session:
    """Boot (host: the bootloader model), then the update session and the bridge's commands."""
    slots = board.slots()
    slots.boot()  # ESP32: the bootloader has chosen already; host: slots_host's model of it
    updater = update.Updater(slots, cfg.firmware_keys(), cfg.hw.get("board", DEFAULT_BOARD),
                             fwfloor.VersionFloor.on(board.flash_root), board.secure_version())
    settings = Store(board.flash_root + "/settings")
    commands_mod.bridge_handlers(lnk.commands, lnk, resetter.request, settings)
    window = settings.data.get("settings", {}).get("health_window_ms") or cfg.bridge.get(
        "health_window_ms", fwupdate.DEFAULT_HEALTH_WINDOW_MS)
    fw = fwupdate.Session(updater, Store(board.flash_root + "/fwupdate"), lnk.commands, resetter.request, clk,
                          window)
    fw.announce = lnk.publish_state
    lnk.on_chunk = fw.chunk
    lnk.faults = fw.faults
    running = slots.manifest(slots.running)
    lnk.firmware = (lambda: "mchfw/" + running["version"]) if running else None
    return fw


def run_ctg(bundle: str, board, uart_path=None, run_ms: int = 0) -> CtgBridge:
    cfg, box, lnk, clk = build(bundle, board)
    uart = board.uart(uart_path or cfg.hw.get("uart"), cfg.hw.get("baud", 9600))
    wdt = board.watchdog(WATCHDOG_MS)
    wifi = board.wifi()
    if cfg.wifi.get("ssid"):
        wifi.connect(cfg.wifi["ssid"], cfg.wifi.get("psk", ""))
    bridge = CtgBridge(uart, corometrics.Decoder(), box, lnk, clk, wdt, wifi, cfg.ntp_host,
                       cfg.bridge.get("schema", "bridge-ctg/1"))
    resetter = Resetter(board, clk)
    fw = updates(cfg, board, lnk, clk, resetter)
    # A freshly installed image proves itself healthy when the hub acknowledges its first record;
    # until then the bootloader would roll it back at the next reset (fwupdate.py). Confirming also
    # raises the anti-rollback floor (fwfloor.py) to this image's version.
    bridge.on_healthy = fw.healthy

    def on_step() -> None:
        fw.tick()
        resetter.step(lnk)

    bridge.on_step = on_step
    if cfg.bridge.get("trace"):
        bridge.trace = print
    bridge.cut_before_commit_at = cfg.hw.get("cut_before_commit_at", 0)
    bridge.run(run_ms)
    return bridge


IOBOARD_BAUD = 115200
IOBOARD_WATCHDOG_MS = 5000


def run_ioboard(board, uart_port=None, steps: int = 0):
    """The kiosk I/O board on `board` (pins by name: see ioboard.SENSOR_PINS, LED_PINS, ...)."""
    from mchfw import ioboard

    pins = {name: board.pin_in(name) for name, _ in ioboard.SENSOR_PINS}
    for name in ioboard.LED_PINS + (ioboard.MOTOR_FWD_PIN, ioboard.MOTOR_REV_PIN, ioboard.BUZZER_PIN):
        pins[name] = board.pin_out(name)
    io = ioboard.IoBoard(board.uart(uart_port, IOBOARD_BAUD), pins, clock_mod.ticks_ms,
                         board.watchdog(IOBOARD_WATCHDOG_MS))
    n = 0
    while not steps or n < steps:
        io.step()
        n += 1
    return io


def main(argv) -> None:
    bundle, state = argv[1], argv[2]
    uart_path = argv[3] if len(argv) > 3 else None
    run_ms = int(argv[4]) if len(argv) > 4 else 0
    board = hw.open_board(state, uart_path=uart_path or "")
    run_ctg(bundle, board, uart_path, run_ms)


if __name__ == "__main__":
    main(sys.argv)
