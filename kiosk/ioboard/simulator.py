"""I/O board simulator: speaks docs/ioboard-protocol.md from the board side on a pty.

Control methods stand for the physical world: :meth:`BoardSimulator.insert_card` (a customer
puts a card at the slot), :meth:`remove_card` (takes it from the mouth), ``jam`` (the
transport blocks).  Times are configurable so tests run fast.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from kiosk.ioboard import protocol as p
from kiosk.serial_transport import PtyServer, serve_until_signal

VERSION = "iob-sim-1.0"
STEP_S = 0.03  # time the card takes from one sensor to the next


@dataclass
class _Motion:
    action: int
    started: float
    wait_until: float  # accept: customer deadline


class BoardSimulator:
    """Device-side state machine; ``feed`` takes host bytes, ``tick`` advances time."""

    def __init__(self, *, watchdog_ms: int = p.DEFAULT_WATCHDOG_MS,
                 motion_timeout_s: float = p.MOTION_TIMEOUT_MS / 1000) -> None:
        self._lock = threading.RLock()
        self._decoder = p.FrameDecoder()
        self._boot = time.monotonic()
        self._last_host = time.monotonic()
        self._last_rx = self._last_host
        self._out: list[bytes] = []
        self._event_seq = 0
        self._last_cmd: tuple[int, int, bytes] | None = None
        self.watchdog_ms = watchdog_ms
        self.motion_timeout_s = motion_timeout_s
        self.position: str | None = None  # None, "entry", "middle", "inner", "bin"
        self.bin_full = False
        self.jam = False
        self.silent = False
        self.flags = 0
        self.leds = [p.LED_OFF] * p.LED_COUNT
        self.leds[p.LED_STATUS] = p.LED_ON
        self.buzzer: tuple[int, int, int] = (0, 0, 0)
        self.captured = 0
        self.ignore_host = False  # fault mode: board hung, answers nothing
        self._motion: _Motion | None = None
        self._moved_at = 0.0
        self._emit(p.EVT_BOOT, bytes((p.RESET_POWER_ON,)) + VERSION.encode("ascii"))

    # --- physical world ----------------------------------------------------------------
    def insert_card(self) -> None:
        with self._lock:
            if self.position is None:
                self._set_position("entry")

    def remove_card(self) -> bool:
        """Customer takes the card at the mouth; False if there is none to take."""
        with self._lock:
            if self.position != "entry" or self._motion is not None:
                return False
            self._set_position(None)
            return True

    @property
    def sensors(self) -> int:
        bits = {None: 0, "entry": p.SENSOR_ENTRY, "middle": p.SENSOR_MIDDLE, "inner": p.SENSOR_INNER,
                "bin": 0}[self.position]
        return bits | (p.SENSOR_BIN if self.bin_full else 0)

    # --- host side ------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        with self._lock:
            if self.ignore_host:
                return
            self._last_rx = time.monotonic()
            for seq, ftype, payload in self._decoder.feed(data):
                self._last_host = time.monotonic()
                self.silent = False
                if self._last_cmd is not None and self._last_cmd[:2] == (seq, ftype):
                    self._out.append(self._last_cmd[2])  # retransmission: answer from cache
                    continue
                frame = p.encode_frame(seq, p.RESP, self._execute(ftype, payload))
                self._last_cmd = (seq, ftype, frame)
                self._out.append(frame)

    def take_output(self) -> bytes:
        with self._lock:
            out, self._out = b"".join(self._out), []
            return out

    def tick(self) -> None:
        with self._lock:
            now = time.monotonic()
            if self._decoder.pending and now - self._last_rx > p.INTER_BYTE_TIMEOUT_MS / 1000:
                self._decoder.reset()
            if not self.silent and now - self._last_host > self.watchdog_ms / 1000:
                self._enter_safe_state()
            if self._motion is not None:
                self._advance(now)

    # --- commands -------------------------------------------------------------------------
    def _execute(self, cmd: int, payload: bytes) -> bytes:
        try:
            data = self._dispatch(cmd, payload)
        except p.IoProtocolError:
            return p.encode_response(cmd, p.RES_BAD_PARAM)
        if isinstance(data, int):
            return p.encode_response(cmd, data)
        return p.encode_response(cmd, p.RES_OK, data)

    def _dispatch(self, cmd: int, payload: bytes) -> bytes | int:
        if cmd == p.CMD_HEARTBEAT and not payload:
            status = p.encode_status(int(time.monotonic() - self._boot), self.sensors,
                                     self._motor_state(), self.flags, self.watchdog_ms)
            self.flags &= ~p.FLAG_HOST_SILENT
            return status
        if cmd == p.CMD_GET_VERSION and not payload:
            return VERSION.encode("ascii")
        if cmd == p.CMD_SET_WATCHDOG:
            self.watchdog_ms = p.decode_watchdog(payload) or p.DEFAULT_WATCHDOG_MS
            return b""
        if cmd == p.CMD_SET_LED:
            led, mode = p.decode_led(payload)
            self.leds[led] = mode
            return b""
        if cmd == p.CMD_BUZZER:
            self.buzzer = p.decode_buzzer(payload)
            return b""
        if cmd == p.CMD_MOTOR_STOP and not payload:
            self._finish(p.RES_STOPPED)
            return b""
        if cmd in p.MOTOR_COMMANDS:
            return self._start_motion(cmd, payload)
        if cmd in p.COMMANDS:
            return p.RES_BAD_PARAM
        return p.RES_UNKNOWN_CMD

    def _start_motion(self, cmd: int, payload: bytes) -> bytes | int:
        wait_s = p.decode_accept(payload) if cmd == p.CMD_MOTOR_ACCEPT else 0
        if cmd != p.CMD_MOTOR_ACCEPT and payload:
            return p.RES_BAD_PARAM
        if self._motion is not None:
            return p.RES_BUSY
        inside = self.position in ("middle", "inner")
        if cmd == p.CMD_MOTOR_ACCEPT and inside:
            return p.RES_CARD_PRESENT
        if cmd == p.CMD_MOTOR_EJECT and not inside:
            return p.RES_NO_CARD
        if cmd == p.CMD_MOTOR_CAPTURE:
            if self.position not in ("entry", "middle", "inner"):
                return p.RES_NO_CARD
            if self.bin_full:
                return p.RES_BIN_FULL
        now = time.monotonic()
        self.flags &= ~p.FLAG_JAM
        self._motion = _Motion(cmd, now, now + wait_s)
        self._moved_at = now
        return b""

    # --- motion ---------------------------------------------------------------------------
    def _advance(self, now: float) -> None:
        motion = self._motion
        if motion is None:
            return
        if motion.action == p.CMD_MOTOR_ACCEPT and self.position is None:
            if now > motion.wait_until:
                self._finish(p.RES_TIMEOUT)
            return
        if now - self._moved_at > self.motion_timeout_s:
            self.flags |= p.FLAG_JAM
            self._finish(p.RES_JAM)
            return
        if self.jam and self.position == "middle" or now - self._moved_at < STEP_S:
            return
        path = {p.CMD_MOTOR_ACCEPT: {"entry": "middle", "middle": "inner"},
                p.CMD_MOTOR_EJECT: {"inner": "middle", "middle": "entry"},
                p.CMD_MOTOR_CAPTURE: {"entry": "middle", "middle": "inner", "inner": "bin"}}[motion.action]
        nxt = path.get(self.position or "")
        if nxt is None:
            self._finish(p.RES_OK)
            return
        self._set_position(nxt)
        self._moved_at = now
        done = {p.CMD_MOTOR_ACCEPT: "inner", p.CMD_MOTOR_EJECT: "entry", p.CMD_MOTOR_CAPTURE: "bin"}
        if nxt == done[motion.action]:
            if nxt == "bin":
                self.captured += 1
                self._set_position(None)
            self._finish(p.RES_OK)

    def _finish(self, result: int) -> None:
        if self._motion is None:
            return
        action, self._motion = self._motion.action, None
        self._emit(p.EVT_MOTOR_DONE, p.encode_motor_done(action, result, self.sensors))

    def _set_position(self, position: str | None) -> None:
        before = self.sensors
        self.position = position
        if self.sensors != before:
            self._emit(p.EVT_SENSOR, bytes((self.sensors,)))

    def _motor_state(self) -> int:
        if self._motion is None:
            return p.MOTOR_IDLE
        return {p.CMD_MOTOR_ACCEPT: p.MOTOR_ACCEPTING, p.CMD_MOTOR_EJECT: p.MOTOR_EJECTING,
                p.CMD_MOTOR_CAPTURE: p.MOTOR_CAPTURING}[self._motion.action]

    def _enter_safe_state(self) -> None:
        """Host silent: stop the motor, eject nothing, LEDs off but status blinking fast."""
        self.silent = True
        self.flags |= p.FLAG_HOST_SILENT
        self._finish(p.RES_STOPPED)
        self.buzzer = (0, 0, 0)
        self.leds = [p.LED_OFF] * p.LED_COUNT
        self.leds[p.LED_STATUS] = p.LED_BLINK_FAST
        self._emit(p.EVT_HOST_SILENT, bytes((self.sensors,)))

    def _emit(self, kind: int, payload: bytes) -> None:
        seq = 0 if kind == p.EVT_BOOT else p.next_seq(self._event_seq)
        self._event_seq = seq
        self._out.append(p.encode_frame(seq, kind, payload))


class BoardHandle:
    """A running simulator on a pty: ``port_url`` for the driver, ``board`` for the world, ``stop()``."""

    def __init__(self, board: BoardSimulator) -> None:
        self.board = board
        self._server = PtyServer(self._on_bytes, name="ioboard", on_tick=self._on_tick, autostart=False)
        self.port_url = self._server.port_url
        self._server.start()  # only now may a tick write through self._server

    def _on_bytes(self, data: bytes) -> None:
        self.board.feed(data)
        self._flush()

    def _on_tick(self) -> None:
        self.board.tick()
        self._flush()

    def _flush(self) -> None:
        out = self.board.take_output()
        if out:
            self._server.write(out)

    def stop(self) -> None:
        self._server.stop()


def start_on_pty(*, watchdog_ms: int = p.DEFAULT_WATCHDOG_MS,
                 motion_timeout_s: float = p.MOTION_TIMEOUT_MS / 1000) -> BoardHandle:
    """Start a board simulator on a new pty (``handle.port_url``, ``handle.board``, ``handle.stop()``)."""
    return BoardHandle(BoardSimulator(watchdog_ms=watchdog_ms, motion_timeout_s=motion_timeout_s))


if __name__ == "__main__":
    serve_until_signal(start_on_pty(), "ioboard")
