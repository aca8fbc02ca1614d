"""Kiosk I/O board firmware: card-slot sensors, card-reader motor, LEDs, buzzer.

Speaks docs/ioboard-protocol.md through mchfw.ioproto, a byte-identical copy of
kiosk/ioboard/protocol.py (tests/firmware hold the copy to the original and the board to the
kiosk simulator's bytes). One `step()` per loop turn: read the UART, answer commands (a
retransmitted SEQ+TYPE is answered from the cache, never executed twice), debounce the
sensors, run the motion, watch the host's silence, drive LEDs and buzzer, feed the watchdog.
Safe state when the host goes silent: motor stopped, nothing ejected or captured.
"""

from mchfw import clock as ticks
from mchfw import ioproto as p

VERSION = "iob-1.0"
UART_POLL_MS = 5
UART_READ_MAX = 128
SENSOR_PINS = (("s_entry", p.SENSOR_ENTRY), ("s_middle", p.SENSOR_MIDDLE), ("s_inner", p.SENSOR_INNER),
               ("s_bin", p.SENSOR_BIN))
LED_PINS = ("led0", "led1", "led2", "led3", "led4")
BLINK_HALF_PERIOD_MS = {p.LED_BLINK_SLOW: 500, p.LED_BLINK_FAST: 125}
MOTOR_FWD_PIN = "motor_fwd"  # card inwards (accept, capture)
MOTOR_REV_PIN = "motor_rev"  # card outwards (eject)
BUZZER_PIN = "buzzer"
INSIDE = p.SENSOR_MIDDLE | p.SENSOR_INNER
ON_PATH = p.SENSOR_ENTRY | p.SENSOR_MIDDLE | p.SENSOR_INNER
STATES = {p.CMD_MOTOR_ACCEPT: p.MOTOR_ACCEPTING, p.CMD_MOTOR_EJECT: p.MOTOR_EJECTING,
          p.CMD_MOTOR_CAPTURE: p.MOTOR_CAPTURING}


class Debouncer:
    """A level counts only after it has been stable for DEBOUNCE_MS."""

    def __init__(self, now: int) -> None:
        self.raw = 0
        self.since = now
        self.level = 0

    def sample(self, raw: int, now: int) -> bool:
        if raw != self.raw:
            self.raw, self.since = raw, now
        if self.level != self.raw and ticks.diff(now, self.since) >= p.DEBOUNCE_MS:
            self.level = self.raw
            return True
        return False


class IoBoard:
    def __init__(self, uart, pins: dict, clock, watchdog=None, version: str = VERSION,
                 reset_cause: int = p.RESET_POWER_ON) -> None:
        self.uart, self.pins, self.clock, self.watchdog = uart, pins, clock, watchdog
        self.version = version
        now = clock()
        self.up_ms = 0
        self.up_at = now
        self.decoder = p.FrameDecoder()
        self.last_host = now
        self.last_rx = now
        self.watchdog_ms = p.DEFAULT_WATCHDOG_MS
        self.silent = False
        self.flags = 0
        self.event_seq = 0
        self.last_cmd: tuple | None = None  # (seq, type, response frame)
        self.debounce = [Debouncer(now) for _ in SENSOR_PINS]
        self.sensors = 0
        self.motion: list | None = None  # [action, started_ms, wait_until_ms, moving]
        self.leds = [p.LED_OFF] * p.LED_COUNT
        self.leds[p.LED_STATUS] = p.LED_ON
        self.buzzer = (0, 0, 0)
        self.buzzer_start = now
        self._motor(0)
        self._outputs(now)
        self._emit(p.EVT_BOOT, bytes((reset_cause,)) + version.encode())

    # -- loop ---------------------------------------------------------------------------
    def step(self) -> None:
        data = self.uart.read(UART_READ_MAX, UART_POLL_MS)
        now = self.clock()
        if data:
            self.last_rx = now
            for seq, ftype, payload in self.decoder.feed(data):
                self._on_frame(seq, ftype, payload, now)
        elif self.decoder.pending and ticks.diff(now, self.last_rx) > p.INTER_BYTE_TIMEOUT_MS:
            self.decoder.reset()
        self._sample(now)
        if not self.silent and ticks.diff(now, self.last_host) > self.watchdog_ms:
            self._safe_state()
        self._advance(now)
        self._outputs(now)
        if self.watchdog is not None:
            self.watchdog.feed()

    def _on_frame(self, seq: int, ftype: int, payload: bytes, now: int) -> None:
        self.last_host = now
        self.silent = False
        if self.last_cmd is not None and self.last_cmd[0] == seq and self.last_cmd[1] == ftype:
            self.uart.write(self.last_cmd[2])  # retransmission: answer again, do not act again
            return
        frame = p.encode_frame(seq, p.RESP, self._execute(ftype, payload, now))
        self.last_cmd = (seq, ftype, frame)
        self.uart.write(frame)

    # -- commands -----------------------------------------------------------------------
    def _execute(self, cmd: int, payload: bytes, now: int) -> bytes:
        try:
            data = self._dispatch(cmd, payload, now)
        except p.IoProtocolError:
            return p.encode_response(cmd, p.RES_BAD_PARAM)
        if isinstance(data, int):
            return p.encode_response(cmd, data)
        return p.encode_response(cmd, p.RES_OK, data)

    def _dispatch(self, cmd: int, payload: bytes, now: int):
        if cmd == p.CMD_HEARTBEAT and not payload:
            self.up_ms += ticks.diff(now, self.up_at)
            self.up_at = now
            status = p.encode_status(self.up_ms // 1000, self.sensors, self._motor_state(), self.flags,
                                     self.watchdog_ms)
            self.flags &= ~p.FLAG_HOST_SILENT
            return status
        if cmd == p.CMD_GET_VERSION and not payload:
            return self.version.encode()
        if cmd == p.CMD_SET_WATCHDOG:
            self.watchdog_ms = p.decode_watchdog(payload) or p.DEFAULT_WATCHDOG_MS
            return b""
        if cmd == p.CMD_SET_LED:
            led, mode = p.decode_led(payload)
            self.leds[led] = mode
            return b""
        if cmd == p.CMD_BUZZER:
            self.buzzer = p.decode_buzzer(payload)
            self.buzzer_start = now
            return b""
        if cmd == p.CMD_MOTOR_STOP and not payload:
            self._finish(p.RES_STOPPED)
            return b""
        if cmd in p.MOTOR_COMMANDS:
            return self._start_motion(cmd, payload, now)
        if cmd in p.COMMANDS:
            return p.RES_BAD_PARAM
        return p.RES_UNKNOWN_CMD

    def _start_motion(self, cmd: int, payload: bytes, now: int):
        wait_s = p.decode_accept(payload) if cmd == p.CMD_MOTOR_ACCEPT else 0
        if cmd != p.CMD_MOTOR_ACCEPT and payload:
            return p.RES_BAD_PARAM
        if self.motion is not None:
            return p.RES_BUSY
        if cmd == p.CMD_MOTOR_ACCEPT and self.sensors & INSIDE:
            return p.RES_CARD_PRESENT
        if cmd == p.CMD_MOTOR_EJECT and not self.sensors & INSIDE:
            return p.RES_NO_CARD
        if cmd == p.CMD_MOTOR_CAPTURE:
            if not self.sensors & ON_PATH:
                return p.RES_NO_CARD
            if self.sensors & p.SENSOR_BIN:
                return p.RES_BIN_FULL
        self.flags &= ~p.FLAG_JAM
        self.motion = [cmd, now, ticks.add(now, wait_s * 1000), False]
        return b""

    # -- sensors and motion ---------------------------------------------------------------
    def _sample(self, now: int) -> None:
        changed = False
        for i, (name, bit) in enumerate(SENSOR_PINS):
            if self.debounce[i].sample(1 if self.pins[name].value() else 0, now):
                changed = True
                self.sensors = (self.sensors | bit) if self.debounce[i].level else (self.sensors & ~bit)
        if self.sensors & p.SENSOR_BIN:
            self.flags |= p.FLAG_BIN_FULL
        else:
            self.flags &= ~p.FLAG_BIN_FULL
        if changed:
            self._emit(p.EVT_SENSOR, bytes((self.sensors,)))

    def _advance(self, now: int) -> None:
        m = self.motion
        if m is None:
            return
        action, s = m[0], self.sensors
        if action == p.CMD_MOTOR_ACCEPT and not m[3]:
            if s & p.SENSOR_ENTRY:
                m[1], m[3] = now, True
                self._motor(1)
            elif ticks.diff(now, m[2]) > 0:
                self._finish(p.RES_TIMEOUT)
            return
        if not m[3]:
            m[1], m[3] = now, True
            self._motor(-1 if action == p.CMD_MOTOR_EJECT else 1)
        done = ((action == p.CMD_MOTOR_ACCEPT and s & p.SENSOR_INNER)
                or (action == p.CMD_MOTOR_EJECT and not s & INSIDE and s & p.SENSOR_ENTRY)
                or (action == p.CMD_MOTOR_CAPTURE and not s & ON_PATH))
        if done:
            self._finish(p.RES_OK)
        elif ticks.diff(now, m[1]) > p.MOTION_TIMEOUT_MS:
            self.flags |= p.FLAG_JAM
            self._finish(p.RES_JAM)

    def _finish(self, result: int) -> None:
        self._motor(0)
        if self.motion is None:
            return
        action, self.motion = self.motion[0], None
        self._emit(p.EVT_MOTOR_DONE, p.encode_motor_done(action, result, self.sensors))

    def _motor(self, direction: int) -> None:
        self.pins[MOTOR_FWD_PIN].value(1 if direction > 0 else 0)
        self.pins[MOTOR_REV_PIN].value(1 if direction < 0 else 0)

    def _motor_state(self) -> int:
        return p.MOTOR_IDLE if self.motion is None else STATES[self.motion[0]]

    def _safe_state(self) -> None:
        """Host silent: stop the motor, eject and capture nothing, LEDs off, status blinking fast."""
        self.silent = True
        self.flags |= p.FLAG_HOST_SILENT
        self._finish(p.RES_STOPPED)
        self.buzzer = (0, 0, 0)
        self.leds = [p.LED_OFF] * p.LED_COUNT
        self.leds[p.LED_STATUS] = p.LED_BLINK_FAST
        self._emit(p.EVT_HOST_SILENT, bytes((self.sensors,)))

    # -- outputs --------------------------------------------------------------------------
    def _outputs(self, now: int) -> None:
        for i, mode in enumerate(self.leds):
            half = BLINK_HALF_PERIOD_MS.get(mode)
            on = mode == p.LED_ON or (half is not None and (now // half) % 2 == 0)
            self.pins[LED_PINS[i]].value(1 if on else 0)
        on_ms, off_ms, count = self.buzzer
        t = ticks.diff(now, self.buzzer_start)
        period = on_ms + off_ms
        beeping = count > 0 and period > 0 and t < period * count and t % period < on_ms
        self.pins[BUZZER_PIN].value(1 if beeping else 0)

    def _emit(self, kind: int, payload: bytes) -> None:
        seq = 0 if kind == p.EVT_BOOT else p.next_seq(self.event_seq)
        self.event_seq = seq
        self.uart.write(p.encode_frame(seq, kind, payload))
