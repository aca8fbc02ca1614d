"""Host driver of the kiosk I/O board (protocol: docs/ioboard-protocol.md)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from kiosk.errors import DeviceStatusError, DeviceTimeoutError, FrameError
from kiosk.ioboard import protocol as p
from kiosk.serial_transport import Transport, port_name, read_available, write_all

DEVICE = "ioboard"
RESPONSE_TIMEOUT_S = 0.25
RETRIES = 2
EVENT_QUEUE_MAX = 64
READ_SLICE_S = 0.02
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BoardStatus:
    uptime_s: int
    sensors: int
    motor_state: int
    flags: int
    watchdog_ms: int

    @property
    def card_inside(self) -> bool:
        return bool(self.sensors & (p.SENSOR_MIDDLE | p.SENSOR_INNER))

    @property
    def card_at_mouth(self) -> bool:
        return bool(self.sensors & p.SENSOR_ENTRY)

    @property
    def host_silent_fired(self) -> bool:
        return bool(self.flags & p.FLAG_HOST_SILENT)


@dataclass(frozen=True)
class BoardEvent:
    """An event from the board; ``kind`` is the EVT_* type, ``seq`` the board's event counter."""

    kind: int
    seq: int
    payload: bytes


@dataclass(frozen=True)
class MotorOutcome:
    action: int
    result: int
    sensors: int

    @property
    def ok(self) -> bool:
        return self.result == p.RES_OK

    @property
    def result_name(self) -> str:
        return p.RESULT_NAMES.get(self.result, f"0x{self.result:02X}")


class IoBoard:
    """Synchronous driver: one command at a time, events queued (bounded, overflow counted)."""

    def __init__(self, transport: Transport, *, response_timeout_s: float = RESPONSE_TIMEOUT_S,
                 retries: int = RETRIES) -> None:
        self._port = transport
        self._timeout_s = response_timeout_s
        self._retries = retries
        self._seq = 0
        self._decoder = p.FrameDecoder()
        self._events: deque[BoardEvent] = deque()
        self._lock = threading.Lock()
        self._last_event_seq: int | None = None
        self._last_rx = time.monotonic()
        self.events_dropped = 0
        self.event_gaps = 0

    @property
    def port(self) -> str:
        return port_name(self._port)

    # --- commands -------------------------------------------------------------------
    def heartbeat(self) -> BoardStatus:
        data = self._command(p.CMD_HEARTBEAT)
        try:
            return BoardStatus(*p.decode_status(data))
        except p.IoProtocolError as exc:
            raise FrameError(DEVICE, f"bad status: {exc}", port=self.port) from exc

    def version(self) -> str:
        return self._command(p.CMD_GET_VERSION).decode("ascii", errors="replace")

    def set_watchdog(self, timeout_ms: int) -> None:
        self._command(p.CMD_SET_WATCHDOG, p.encode_watchdog(timeout_ms))

    def set_led(self, led: int, mode: int) -> None:
        self._command(p.CMD_SET_LED, p.encode_led(led, mode))

    def buzz(self, on_ms: int, off_ms: int = 0, count: int = 1) -> None:
        self._command(p.CMD_BUZZER, p.encode_buzzer(on_ms, off_ms, count))

    def stop_motor(self) -> None:
        self._command(p.CMD_MOTOR_STOP)

    def accept_card(self, wait_s: int, timeout_s: float | None = None) -> MotorOutcome:
        """Open the slot for ``wait_s`` seconds and pull the card to the read position."""
        self._command(p.CMD_MOTOR_ACCEPT, p.encode_accept(wait_s))
        return self.wait_motor_done(p.CMD_MOTOR_ACCEPT, timeout_s or wait_s + p.MOTION_TIMEOUT_MS / 1000 + 1)

    def eject_card(self, timeout_s: float = p.MOTION_TIMEOUT_MS / 1000 + 1) -> MotorOutcome:
        self._command(p.CMD_MOTOR_EJECT)
        return self.wait_motor_done(p.CMD_MOTOR_EJECT, timeout_s)

    def capture_card(self, timeout_s: float = p.MOTION_TIMEOUT_MS / 1000 + 1) -> MotorOutcome:
        self._command(p.CMD_MOTOR_CAPTURE)
        return self.wait_motor_done(p.CMD_MOTOR_CAPTURE, timeout_s)

    def self_test(self) -> str:
        status = self.heartbeat()
        return f"I/O board {self.version()} up {status.uptime_s} s, sensors 0x{status.sensors:02X}"

    # --- events ---------------------------------------------------------------------
    def poll_event(self, timeout_s: float) -> BoardEvent | None:
        """Next event from the board, waiting at most ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while not self._events:
                if time.monotonic() >= deadline:
                    return None
                self._pump(min(READ_SLICE_S, max(deadline - time.monotonic(), 0.001)))
            return self._events.popleft()

    def wait_motor_done(self, action: int, timeout_s: float) -> MotorOutcome:
        deadline = time.monotonic() + timeout_s
        kept: list[BoardEvent] = []
        try:
            while True:
                event = self.poll_event(max(deadline - time.monotonic(), 0.0))
                if event is None:
                    raise DeviceTimeoutError(DEVICE, f"no motor result for 0x{action:02X}", port=self.port)
                if event.kind == p.EVT_MOTOR_DONE:
                    try:
                        outcome = MotorOutcome(*p.decode_motor_done(event.payload))
                    except p.IoProtocolError as exc:
                        raise FrameError(DEVICE, f"bad motor result: {exc}", port=self.port) from exc
                    if outcome.action == action:
                        return outcome
                kept.append(event)
        finally:
            with self._lock:
                self._events.extendleft(reversed(kept))

    # --- internals ------------------------------------------------------------------
    def _command(self, cmd: int, payload: bytes = b"") -> bytes:
        with self._lock:
            self._seq = p.next_seq(self._seq)
            frame = p.encode_frame(self._seq, cmd, payload)
            for _attempt in range(self._retries + 1):
                write_all(self._port, frame, device=DEVICE)
                resp = self._await_response(self._seq, cmd)
                if resp is None:
                    log.debug("ioboard: no response to 0x%02X seq %d, retrying", cmd, self._seq)
                    continue
                result, data = resp
                if result != p.RES_OK:
                    name = p.RESULT_NAMES.get(result, f"0x{result:02X}")
                    raise DeviceStatusError(DEVICE, f"command 0x{cmd:02X} refused: {name}",
                                            status=result, port=self.port)
                return data
        raise DeviceTimeoutError(DEVICE, f"no response to command 0x{cmd:02X}", port=self.port)

    def _await_response(self, seq: int, cmd: int) -> tuple[int, bytes] | None:
        deadline = time.monotonic() + self._timeout_s
        while time.monotonic() < deadline:
            for fseq, ftype, payload in self._pump(min(READ_SLICE_S, deadline - time.monotonic())):
                if ftype != p.RESP or fseq != seq:
                    continue
                try:
                    rcmd, result, data = p.decode_response(payload)
                except p.IoProtocolError:
                    continue
                if rcmd == cmd:
                    return result, data
        return None

    def _pump(self, timeout_s: float) -> list[tuple[int, int, bytes]]:
        """Read what is there; queue events; return non-event frames."""
        chunk = read_available(self._port, timeout_s, device=DEVICE)
        now = time.monotonic()
        if chunk:
            self._last_rx = now
        elif self._decoder.pending and now - self._last_rx > p.INTER_BYTE_TIMEOUT_MS / 1000:
            self._decoder.reset()  # a frame broken off by noise must not swallow the next one
        others = []
        for seq, ftype, payload in self._decoder.feed(chunk):
            if ftype in p.EVENTS:
                self._queue_event(BoardEvent(ftype, seq, payload))
            else:
                others.append((seq, ftype, payload))
        return others

    def _queue_event(self, event: BoardEvent) -> None:
        if event.kind == p.EVT_BOOT:
            self._last_event_seq = event.seq
        elif self._last_event_seq is not None and event.seq != p.next_seq(self._last_event_seq):
            self.event_gaps += 1
        self._last_event_seq = event.seq
        if len(self._events) >= EVENT_QUEUE_MAX:
            self._events.popleft()
            self.events_dropped += 1
        self._events.append(event)
