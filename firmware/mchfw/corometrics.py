"""GE Corometrics 115-compatible monitor protocol: the firmware's stream decoder.

The same definition as fetal_monitor_station/monitor/corometrics.py (held to it by shared
byte-stream tests in tests/firmware): Monitor Type | Response Type | Monitor ID | data | ETX.
Events are tuples so they cost little heap:
    (EV_HR, channel, bpm or None)   (EV_UA, value or None)   (EV_MODES, hr_mode, ua_mode)
    (EV_MARK,)   (EV_FM, state)   (EV_PAPER, paper_out)   (EV_ANNOTATION, code, data)
"""

ETX = 0x03
MONITOR_TYPE_170 = 0x39  # '9'
MONITOR_ID = 0x30  # '0'
RT_HR1 = 0x60
RT_UA = 0x61
RT_MODES = 0x62
RT_ANNOTATION = 0x63
RT_MARK = 0x64
RT_HR2 = 0x65
RT_FM = 0x66
RT_PAPER_OUT = 0x67
RT_LAST = 0x7F
RESPONSE_TYPES = (RT_HR1, RT_UA, RT_MODES, RT_ANNOTATION, RT_MARK, RT_HR2, RT_FM, RT_PAPER_OUT)
HR_PENLIFT = 0
UA_PENLIFT = 128
HR_VALID_BPM = (30, 240)  # PROVISIONAL, as in the station's decoder
UA_VALID = (0, 127)
VALUE_DIGITS = (2, 3)
FM_NONE = "none"
FM_DETECTED = "detected"
FM_FEATURE_ABSENT = "feature_absent"
FM_DISABLED = "disabled"
FM_CODES = {0x30: FM_NONE, 0x31: FM_DETECTED, 0x32: FM_FEATURE_ABSENT, 0x34: FM_DISABLED}
PAPER_OK = 0x30
PAPER_OUT = 0x31
MAX_FRAME_BYTES = 64
ASCII_MAX = 0x7F
DIGIT_0 = 0x30
DIGIT_9 = 0x39

EV_HR = "hr"
EV_UA = "ua"
EV_MODES = "modes"
EV_MARK = "mark"
EV_FM = "fm"
EV_PAPER = "paper"
EV_ANNOTATION = "annotation"

STAT_NAMES = ("bytes_in", "frames_ok", "framing_errors", "unknown_codes", "bad_values", "bytes_discarded")


def build_frame(response_type: int, data: bytes = b"") -> bytes:
    return bytes((MONITOR_TYPE_170, response_type, MONITOR_ID)) + data + bytes((ETX,))


def _digits(data: bytes):
    if not VALUE_DIGITS[0] <= len(data) <= VALUE_DIGITS[1]:
        return None
    for b in data:
        if not DIGIT_0 <= b <= DIGIT_9:
            return None
    return int(data)


def _alnum(b: int) -> bool:
    return DIGIT_0 <= b <= DIGIT_9 or 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A


class Decoder:
    """Feed whatever the UART returned, in any chunking; bad input is counted, never raised."""

    def __init__(self, monitor_types=(MONITOR_TYPE_170,)) -> None:
        self.monitor_types = monitor_types
        self.stats = {name: 0 for name in STAT_NAMES}
        self._buf = bytearray()

    def feed(self, data: bytes) -> list:
        self.stats["bytes_in"] += len(data)
        self._buf.extend(data)
        events = []
        start = 0
        while True:
            end = self._buf.find(bytes((ETX,)), start)
            if end < 0:
                break
            ev = self._frame(bytes(self._buf[start:end]))
            if ev is not None:
                events.append(ev)
            start = end + 1
        self._buf = self._buf[start:]
        if len(self._buf) > MAX_FRAME_BYTES:
            self.stats["framing_errors"] += 1
            self.stats["bytes_discarded"] += len(self._buf)
            self._buf = bytearray()
        return events

    def _bad(self, frame: bytes, counter: str) -> None:
        self.stats[counter] += 1
        self.stats["bytes_discarded"] += len(frame) + 1

    def _resync(self, frame: bytes) -> bytes:
        for i in range(len(frame) - 3, 0, -1):
            if frame[i] in self.monitor_types and frame[i + 2] == MONITOR_ID and RT_HR1 <= frame[i + 1] <= RT_LAST:
                self.stats["framing_errors"] += 1
                self.stats["bytes_discarded"] += i
                return frame[i:]
        return frame

    def _frame(self, frame: bytes):
        frame = self._resync(frame)
        if (len(frame) < 3 or frame[0] not in self.monitor_types or frame[2] != MONITOR_ID
                or any(b > ASCII_MAX for b in frame)):
            self._bad(frame, "framing_errors")
            return None
        code, data = frame[1], frame[3:]
        if code not in RESPONSE_TYPES:
            self._bad(frame, "unknown_codes")
            return None
        ev = self._decode(code, data)
        if ev is None:
            self._bad(frame, "bad_values")
            return None
        self.stats["frames_ok"] += 1
        return ev

    def _decode(self, code: int, data: bytes):
        if code == RT_HR1 or code == RT_HR2:
            hr = _digits(data)
            if hr is None or (hr != HR_PENLIFT and not HR_VALID_BPM[0] <= hr <= HR_VALID_BPM[1]):
                return None
            return (EV_HR, 1 if code == RT_HR1 else 2, None if hr == HR_PENLIFT else hr)
        if code == RT_UA:
            ua = _digits(data)
            if ua is None or (ua != UA_PENLIFT and not UA_VALID[0] <= ua <= UA_VALID[1]):
                return None
            return (EV_UA, None if ua == UA_PENLIFT else ua)
        if code == RT_MODES:
            if len(data) != 2 or not (_alnum(data[0]) and _alnum(data[1])):
                return None
            return (EV_MODES, chr(data[0]), chr(data[1]))
        if code == RT_MARK:
            return (EV_MARK,) if not data else None
        if code == RT_FM:
            state = FM_CODES.get(data[0]) if len(data) == 1 else None
            return (EV_FM, state) if state is not None else None
        if code == RT_PAPER_OUT:
            if len(data) != 1 or data[0] not in (PAPER_OK, PAPER_OUT):
                return None
            return (EV_PAPER, data[0] == PAPER_OUT)
        return (EV_ANNOTATION, code, bytes(data))
