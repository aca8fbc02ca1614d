"""One I/O board protocol: the firmware's copy of the codec is the kiosk's file byte for byte,
the firmware answers host byte streams with the same bytes as the kiosk's board simulator, and
the kiosk's own host driver runs a card through the firmware on the unix port."""

from __future__ import annotations

import os
import random
import select
import subprocess
import threading
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.ioboard import protocol as p
from kiosk.ioboard.driver import IoBoard
from kiosk.ioboard.simulator import VERSION as SIM_VERSION
from kiosk.ioboard.simulator import BoardSimulator
from kiosk.serial_transport import open_port
from tests.firmware.conftest import FIRMWARE, MICROPYTHON, ROOT, mp_env, run_micropython

WAIT_S = 10


def test_firmware_codec_is_the_kiosk_codec() -> None:
    """One definition: the firmware's module is a link to the kiosk's (deploy and mpy-cross follow it)."""
    link = FIRMWARE / "mchfw" / "ioproto.py"
    assert link.is_symlink() and link.resolve() == (ROOT / "kiosk" / "ioboard" / "protocol.py").resolve()


def _host_stream(rng: random.Random) -> bytes:
    cmds = [(p.CMD_HEARTBEAT, b""), (p.CMD_GET_VERSION, b""), (p.CMD_SET_WATCHDOG, p.encode_watchdog(1000)),
            (p.CMD_SET_WATCHDOG, b"\x00\x05"), (p.CMD_SET_LED, p.encode_led(2, 3)), (p.CMD_SET_LED, b"\x07\x01"),
            (p.CMD_BUZZER, p.encode_buzzer(100, 50, 2)), (p.CMD_BUZZER, b"\x01"), (p.CMD_MOTOR_EJECT, b""),
            (p.CMD_MOTOR_CAPTURE, b""), (p.CMD_MOTOR_ACCEPT, p.encode_accept(9)), (p.CMD_MOTOR_ACCEPT, b"\x00"),
            (p.CMD_MOTOR_STOP, b""), (p.CMD_MOTOR_STOP, b"\x01"), (0x55, b""), (p.CMD_HEARTBEAT, b"\x01")]
    out = bytearray()
    seq = 0
    last = b""
    for _ in range(120):
        r = rng.random()
        if r < 0.1 and last:
            out += last  # retransmission of the previous frame
            continue
        if r < 0.2:
            out += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 6)))  # line noise
        seq = p.next_seq(seq)
        cmd, payload = rng.choice(cmds)
        last = p.encode_frame(seq, cmd, payload)
        out += last
    return bytes(out)


@pytest.mark.integration
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_answers_as_the_kiosk_simulator(seed: int, tmp_path: Path) -> None:
    stream = _host_stream(random.Random(seed))
    sim = BoardSimulator()  # never ticked: no time passes, as in the replay
    for i in range(0, len(stream), 7):
        sim.feed(stream[i:i + 7])
    want = sim.take_output()
    path = tmp_path / "host.bin"
    path.write_bytes(stream)
    proc = run_micropython(["ioboard_replay.py", str(path), "7", SIM_VERSION], timeout=60)
    assert proc.returncode == 0, proc.stderr
    got = bytes.fromhex(proc.stdout.strip())
    assert got == want


class Relay:
    """Two pseudo-terminals joined back to back: the firmware opens one, the host driver the other."""

    def __init__(self) -> None:
        self.a_master, self.a_slave = os.openpty()
        self.b_master, self.b_slave = os.openpty()
        for fd in (self.a_slave, self.b_slave, self.a_master, self.b_master):
            tty.setraw(fd)
        self.a_path, self.b_path = os.ttyname(self.a_slave), os.ttyname(self.b_slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        peer = {self.a_master: self.b_master, self.b_master: self.a_master}
        while not self._stop.is_set():
            ready, _, _ = select.select(list(peer), [], [], 0.05)
            for fd in ready:
                try:
                    os.write(peer[fd], os.read(fd, 4096))
                except OSError:
                    return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for fd in (self.a_master, self.a_slave, self.b_master, self.b_slave):
            os.close(fd)


@pytest.fixture
def firmware_board(tmp_path: Path) -> Iterator[tuple[IoBoard, Path]]:
    relay = Relay()
    state = tmp_path / "board"
    state.mkdir()
    proc = subprocess.Popen([str(MICROPYTHON), str(ROOT / "tests" / "firmware" / "mp" / "ioboard_run.py"),
                             str(state), relay.a_path], env=mp_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, cwd=str(ROOT / "tests" / "firmware" / "mp"))
    port = open_port(relay.b_path, device="ioboard", timeout_s=0.05)
    try:
        yield IoBoard(port), state
    finally:
        port.close()
        proc.kill()
        proc.wait(10)
        relay.close()


def _wait_file(path: Path, text: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().startswith(text):
            return
        time.sleep(0.02)
    raise AssertionError(f"{path.name} never became {text!r} (is {path.read_text() if path.exists() else None!r})")


@pytest.mark.integration
def test_kiosk_driver_runs_a_card_through_the_firmware(firmware_board: tuple[IoBoard, Path]) -> None:
    drv, state = firmware_board
    deadline = time.monotonic() + WAIT_S
    while True:  # the firmware process may still be starting
        try:
            status = drv.heartbeat()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
    assert status.motor_state == p.MOTOR_IDLE and not status.card_inside
    assert drv.version() == "iob-1.0"
    drv.set_led(p.LED_CARD_SLOT, p.LED_BLINK_SLOW)
    drv.buzz(50, 50, 2)
    threading.Timer(0.3, lambda: (state / "insert").write_text("1")).start()
    outcome = drv.accept_card(5)
    assert outcome.ok and outcome.sensors & p.SENSOR_INNER
    _wait_file(state / "position", "inner")
    assert drv.heartbeat().card_inside
    outcome = drv.eject_card()
    assert outcome.ok and outcome.sensors == p.SENSOR_ENTRY
    _wait_file(state / "position", "entry")
    outcome = drv.capture_card()
    assert outcome.ok
    _wait_file(state / "position", "None captured=1")


@pytest.mark.integration
def test_host_silence_on_the_unix_port_keeps_the_card_inside(firmware_board: tuple[IoBoard, Path]) -> None:
    drv, state = firmware_board
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            drv.heartbeat()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
    threading.Timer(0.2, lambda: (state / "insert").write_text("1")).start()
    assert drv.accept_card(5).ok
    drv.set_watchdog(300)
    time.sleep(1.0)  # the host says nothing
    status = drv.heartbeat()
    assert status.host_silent_fired and status.card_inside and status.motor_state == p.MOTOR_IDLE
    _wait_file(state / "position", "inner")  # still inside: nothing was ejected
