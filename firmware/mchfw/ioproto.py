"""Kiosk I/O board wire protocol: pure codec, stdlib only (``struct``).

This module is mirrored by the MicroPython firmware of the board, so it uses no
dataclasses, enums or typing imports: named integer constants, tuples and ``bytes``.
The authoritative description is docs/ioboard-protocol.md; keep the two in step.

Frame::

    SOF1 SOF2 LEN SEQ TYPE PAYLOAD... CRC_HI CRC_LO
    A5   5A   n   s   t    (n-2 bytes)

LEN counts SEQ + TYPE + PAYLOAD (2..MAX_LEN).  CRC is CRC-16/CCITT-FALSE (poly 0x1021,
init 0xFFFF, no reflection, no final XOR) over LEN..PAYLOAD, sent big-endian.
"""

import struct

SOF1 = 0xA5
SOF2 = 0x5A
HEADER_LEN = 3  # SOF1 SOF2 LEN
CRC_LEN = 2
MIN_LEN = 2  # SEQ + TYPE
MAX_PAYLOAD = 60
MAX_LEN = MIN_LEN + MAX_PAYLOAD
MAX_FRAME = HEADER_LEN + MAX_LEN + CRC_LEN
CRC_INIT = 0xFFFF
CRC_POLY = 0x1021

# --- message types: host -> board commands -------------------------------------------
CMD_HEARTBEAT = 0x01  # no payload; answered with RESP + status
CMD_GET_VERSION = 0x02  # no payload; answered with RESP + ASCII version
CMD_SET_WATCHDOG = 0x03  # u16 host-silence timeout in ms (0 = use default)
CMD_MOTOR_ACCEPT = 0x10  # u8 seconds to wait for the card at the slot
CMD_MOTOR_EJECT = 0x11  # no payload
CMD_MOTOR_CAPTURE = 0x12  # no payload
CMD_MOTOR_STOP = 0x13  # no payload
CMD_SET_LED = 0x20  # u8 led id, u8 mode
CMD_BUZZER = 0x21  # u16 on ms, u16 off ms, u8 count (0 = silence now)

# --- message types: board -> host ------------------------------------------------------
RESP = 0x80  # payload: u8 command type echoed, u8 result, data...
EVT_SENSOR = 0xC1  # u8 sensor bitmap (already debounced on the board)
EVT_MOTOR_DONE = 0xC2  # u8 action (the motor command), u8 result, u8 sensor bitmap
EVT_BOOT = 0xC3  # u8 reset cause, ASCII version
EVT_HOST_SILENT = 0xC4  # u8 sensor bitmap; board went to the safe state

COMMANDS = (
    CMD_HEARTBEAT, CMD_GET_VERSION, CMD_SET_WATCHDOG, CMD_MOTOR_ACCEPT, CMD_MOTOR_EJECT,
    CMD_MOTOR_CAPTURE, CMD_MOTOR_STOP, CMD_SET_LED, CMD_BUZZER,
)
MOTOR_COMMANDS = (CMD_MOTOR_ACCEPT, CMD_MOTOR_EJECT, CMD_MOTOR_CAPTURE)
EVENTS = (EVT_SENSOR, EVT_MOTOR_DONE, EVT_BOOT, EVT_HOST_SILENT)

# --- result codes (RESP and EVT_MOTOR_DONE) -------------------------------------------
RES_OK = 0x00  # done (for a motor command in RESP: motion started)
RES_NO_CARD = 0x01  # no card where the action needs one
RES_JAM = 0x02  # motion did not reach the end sensor in time; motor stopped
RES_BUSY = 0x03  # a motor action is already running
RES_TIMEOUT = 0x04  # accept: nobody inserted a card in time
RES_BAD_PARAM = 0x05  # payload length or value out of range
RES_UNKNOWN_CMD = 0x06  # type not a known command
RES_STOPPED = 0x07  # motion aborted by CMD_MOTOR_STOP or the host-silent watchdog
RES_CARD_PRESENT = 0x08  # accept refused: a card is already inside
RES_BIN_FULL = 0x09  # capture refused: the capture bin is full
RESULT_NAMES = {
    RES_OK: "ok", RES_NO_CARD: "no card", RES_JAM: "jam", RES_BUSY: "busy",
    RES_TIMEOUT: "timeout", RES_BAD_PARAM: "bad parameter", RES_UNKNOWN_CMD: "unknown command",
    RES_STOPPED: "stopped", RES_CARD_PRESENT: "card present", RES_BIN_FULL: "bin full",
}

# --- sensor bitmap (photoelectric sensors along the card path) -------------------------
SENSOR_ENTRY = 0x01  # card at the slot mouth
SENSOR_MIDDLE = 0x02  # card in the transport
SENSOR_INNER = 0x04  # card at the read position
SENSOR_BIN = 0x08  # capture bin full
SENSOR_MASK = 0x0F

# --- LEDs and modes ---------------------------------------------------------------------
LED_CARD_SLOT = 0
LED_IDCARD = 1
LED_PINPAD = 2
LED_PRINTER = 3
LED_STATUS = 4
LED_COUNT = 5
LED_OFF = 0
LED_ON = 1
LED_BLINK_SLOW = 2  # 1 Hz
LED_BLINK_FAST = 3  # 4 Hz
LED_MODES = (LED_OFF, LED_ON, LED_BLINK_SLOW, LED_BLINK_FAST)

# --- motor state (status payload) -------------------------------------------------------
MOTOR_IDLE = 0
MOTOR_ACCEPTING = 1
MOTOR_EJECTING = 2
MOTOR_CAPTURING = 3

# --- status flags (status payload) ------------------------------------------------------
FLAG_HOST_SILENT = 0x01  # the watchdog fired since the last command
FLAG_JAM = 0x02  # the last motion jammed
FLAG_BIN_FULL = 0x04

# --- reset causes (EVT_BOOT) ------------------------------------------------------------
RESET_POWER_ON = 0
RESET_WATCHDOG = 1
RESET_SOFT = 2

DEFAULT_WATCHDOG_MS = 3000  # host silence that sends the board to its safe state
MIN_WATCHDOG_MS = 200
MOTION_TIMEOUT_MS = 3000  # a motion not reaching its end sensor by then is a jam
DEBOUNCE_MS = 20  # a sensor must be stable this long before an EVT_SENSOR
INTER_BYTE_TIMEOUT_MS = 50  # a partial frame is discarded after this much line silence
STATUS_FORMAT = ">IBBBH"  # uptime s, sensors, motor state, flags, watchdog ms
STATUS_LEN = 9


class IoProtocolError(ValueError):
    """A frame or payload does not follow the protocol."""


def crc16_ccitt(data, crc=CRC_INIT):
    """CRC-16/CCITT-FALSE of ``data`` (check value of b"123456789" is 0x29B1)."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            if crc & 0x8000:
                crc = ((crc << 1) ^ CRC_POLY) & 0xFFFF
            else:
                crc = (crc << 1) & 0xFFFF
    return crc


def encode_frame(seq, msg_type, payload=b""):
    """Build one frame; ``seq`` and ``msg_type`` are 0..255."""
    if not 0 <= seq <= 0xFF or not 0 <= msg_type <= 0xFF:
        raise IoProtocolError("seq and type must be 0..255")
    if len(payload) > MAX_PAYLOAD:
        raise IoProtocolError(f"payload longer than {MAX_PAYLOAD} bytes")
    body = bytes((MIN_LEN + len(payload), seq, msg_type)) + bytes(payload)
    return bytes((SOF1, SOF2)) + body + struct.pack(">H", crc16_ccitt(body))


def decode_frame(frame):
    """Parse exactly one frame; returns ``(seq, msg_type, payload)``."""
    if len(frame) < HEADER_LEN + MIN_LEN + CRC_LEN:
        raise IoProtocolError("frame too short")
    if frame[0] != SOF1 or frame[1] != SOF2:
        raise IoProtocolError("bad start of frame")
    length = frame[2]
    if not MIN_LEN <= length <= MAX_LEN:
        raise IoProtocolError(f"bad length {length}")
    if len(frame) != HEADER_LEN + length + CRC_LEN:
        raise IoProtocolError("frame size does not match its length byte")
    body = frame[2:HEADER_LEN + length]
    (crc,) = struct.unpack(">H", frame[HEADER_LEN + length:])
    if crc != crc16_ccitt(body):
        raise IoProtocolError("bad CRC")
    return frame[3], frame[4], bytes(frame[5:HEADER_LEN + length])


class FrameDecoder:
    """Stream decoder: feed bytes, get complete valid frames; resynchronises on noise.

    Bytes that cannot start a valid frame are skipped and counted in ``dropped``; frames with
    a bad CRC or length are counted in ``bad_frames``.
    """

    def __init__(self):
        self._buf = bytearray()
        self.dropped = 0
        self.bad_frames = 0

    def feed(self, data):
        """Add bytes; return a list of ``(seq, msg_type, payload)`` for every complete frame."""
        self._buf.extend(data)
        frames = []
        while True:
            start = self._find_sof()
            if start < 0 or len(self._buf) < HEADER_LEN:
                return frames
            length = self._buf[2]
            if not MIN_LEN <= length <= MAX_LEN:
                self._skip(1)
                self.bad_frames += 1
                continue
            total = HEADER_LEN + length + CRC_LEN
            if len(self._buf) < total:
                return frames
            candidate = bytes(self._buf[:total])
            try:
                frames.append(decode_frame(candidate))
            except IoProtocolError:
                self.bad_frames += 1
                self._skip(1)
                continue
            self._buf = self._buf[total:]

    @property
    def pending(self):
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)

    def reset(self):
        """Discard a partial frame (call after INTER_BYTE_TIMEOUT_MS of silence mid-frame)."""
        if self._buf:
            self.bad_frames += 1
            self._skip(len(self._buf))

    def _find_sof(self):
        """Drop bytes before the next SOF1 SOF2; return 0 if the buffer starts a frame, else -1."""
        while self._buf:
            idx = 0
            while idx < len(self._buf) and self._buf[idx] != SOF1:
                idx += 1
            if idx:
                self._skip(idx)
            if not self._buf:
                return -1
            if len(self._buf) < 2:
                return -1
            if self._buf[1] == SOF2:
                return 0
            self._skip(1)
        return -1

    def _skip(self, count):
        # slice assignment, not ``del``: MicroPython's bytearray has no item deletion
        self._buf = self._buf[count:]
        self.dropped += count


# --- payload helpers ---------------------------------------------------------------------

def encode_status(uptime_s, sensors, motor_state, flags, watchdog_ms):
    return struct.pack(STATUS_FORMAT, uptime_s, sensors, motor_state, flags, watchdog_ms)


def decode_status(data):
    """Status data -> ``(uptime_s, sensors, motor_state, flags, watchdog_ms)``."""
    if len(data) != STATUS_LEN:
        raise IoProtocolError(f"status must be {STATUS_LEN} bytes")
    return struct.unpack(STATUS_FORMAT, data)


def encode_response(command, result, data=b""):
    return bytes((command, result)) + bytes(data)


def decode_response(payload):
    """RESP payload -> ``(command, result, data)``."""
    if len(payload) < 2:
        raise IoProtocolError("response payload too short")
    return payload[0], payload[1], bytes(payload[2:])


def encode_led(led, mode):
    if not 0 <= led < LED_COUNT or mode not in LED_MODES:
        raise IoProtocolError("bad LED id or mode")
    return bytes((led, mode))


def decode_led(payload):
    if len(payload) != 2 or payload[0] >= LED_COUNT or payload[1] not in LED_MODES:
        raise IoProtocolError("bad LED payload")
    return payload[0], payload[1]


def encode_buzzer(on_ms, off_ms, count):
    if not (0 <= on_ms <= 0xFFFF and 0 <= off_ms <= 0xFFFF and 0 <= count <= 0xFF):
        raise IoProtocolError("buzzer values out of range")
    return struct.pack(">HHB", on_ms, off_ms, count)


def decode_buzzer(payload):
    if len(payload) != 5:
        raise IoProtocolError("buzzer payload must be 5 bytes")
    return struct.unpack(">HHB", payload)


def encode_watchdog(timeout_ms):
    if not (timeout_ms == 0 or MIN_WATCHDOG_MS <= timeout_ms <= 0xFFFF):
        raise IoProtocolError("watchdog timeout out of range")
    return struct.pack(">H", timeout_ms)


def decode_watchdog(payload):
    if len(payload) != 2:
        raise IoProtocolError("watchdog payload must be 2 bytes")
    timeout_ms = struct.unpack(">H", payload)[0]
    if 0 < timeout_ms < MIN_WATCHDOG_MS:
        raise IoProtocolError("watchdog timeout below the minimum")
    return timeout_ms


def encode_accept(wait_s):
    if not 1 <= wait_s <= 0xFF:
        raise IoProtocolError("accept wait must be 1..255 s")
    return bytes((wait_s,))


def decode_accept(payload):
    if len(payload) != 1 or payload[0] == 0:
        raise IoProtocolError("accept payload must be one byte 1..255")
    return payload[0]


def encode_motor_done(action, result, sensors):
    return bytes((action, result, sensors))


def decode_motor_done(payload):
    if len(payload) != 3 or payload[0] not in MOTOR_COMMANDS:
        raise IoProtocolError("bad motor-done payload")
    return payload[0], payload[1], payload[2]


def decode_sensor(payload):
    if len(payload) != 1 or payload[0] & ~SENSOR_MASK:
        raise IoProtocolError("bad sensor payload")
    return payload[0]


def decode_boot(payload):
    """EVT_BOOT payload -> ``(reset_cause, version)``."""
    if len(payload) < 1:
        raise IoProtocolError("boot payload too short")
    try:
        version = bytes(payload[1:]).decode("ascii")
    except UnicodeError as exc:
        raise IoProtocolError("boot version is not ASCII") from exc
    return payload[0], version


def next_seq(seq):
    """Sequence numbers run 0..255 and wrap."""
    return (seq + 1) & 0xFF
