"""GE Corometrics "115-compatible" RS-232 protocol: pure frame codec and stream decoder.

Sources (see /work/shared/reference/ctg.md section 6): GE 120 Series manual 2015590-001
ch. 11 (Table 11-2, Figures 11-2/11-3) and 170 Series manual 2000947-004 section 8.

Message: Monitor Type (1 byte) | Response Type (1) | Monitor ID (1) | data field | ETX.
Heart rate 2-3 ASCII digits 4x/s ("00" = penlift), uterine activity 2-3 digits ("128" =
penlift), modes 2 chars (HR mode, UA mode), event mark = empty data field, fetal movement one
char, paper-out '0'/'1'. The host may request data (Transmit/Receive mode) with Monitor Type
+ selectors + ETX; ETX right after the Monitor ID cancels all transmission.

PROVISIONAL (not in the retrieved documentation, so named and configurable, never bare):
- the HR-mode and UA-mode character tables (Tables 11-3/11-4, 8-4/8-5): `HR_MODE_ROLES`;
- whether a request carries the Monitor ID: `REQUEST_INCLUDES_MONITOR_ID`;
- the accepted Monitor Type bytes besides '9' (170 series): `MONITOR_TYPES`;
- the valid value ranges `HR_VALID_BPM` and `UA_VALID`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fetal_monitor_station.errors import ConfigError
from fetal_monitor_station.monitor.decoder import DecoderStats, register_decoder
from fetal_monitor_station.monitor.events import (
    Annotation,
    EventMark,
    FetalMovement,
    FetalMovementState,
    HeartRate,
    HrRole,
    Modes,
    MonitorEvent,
    RecorderStatus,
    UterineActivity,
)

PROTOCOL_NAME = "corometrics-115"

ETX = 0x03
MONITOR_TYPE_170 = 0x39  # '9'
MONITOR_TYPES = frozenset({MONITOR_TYPE_170})  # PROVISIONAL: other series' type bytes unknown
MONITOR_ID = 0x30  # '0'

# Response Type codes, Table 11-2.
RT_HR1 = 0x60
RT_UA = 0x61
RT_MODES = 0x62
RT_ANNOTATION = 0x63  # vital-signs annotations, Model 2115/2116 messages
RT_MARK = 0x64
RT_HR2 = 0x65
RT_FM = 0x66
RT_PAPER_OUT = 0x67
RT_LAST = 0x7F  # response types live in 0x60..0x7F; used only to find headers after noise
RESPONSE_TYPES = frozenset({RT_HR1, RT_UA, RT_MODES, RT_ANNOTATION, RT_MARK, RT_HR2, RT_FM, RT_PAPER_OUT})

HR_PENLIFT = 0  # "00"
UA_PENLIFT = 128  # "128"
HR_VALID_BPM = (30, 240)  # PROVISIONAL range; outside it a value is counted bad
UA_VALID = (0, 127)  # PROVISIONAL range
VALUE_DIGITS = (2, 3)

FM_CODES = {
    ord("0"): FetalMovementState.NONE,
    ord("1"): FetalMovementState.DETECTED,
    ord("2"): FetalMovementState.FEATURE_ABSENT,
    ord("4"): FetalMovementState.DISABLED,
}
PAPER_OK = ord("0")
PAPER_OUT = ord("1")

# PROVISIONAL HR-mode table: mode character -> (role of HR channel 1, role of HR channel 2).
# The real table was not retrieved; a site overrides it in config (`hr_mode_roles`).
# Until the monitor has told its modes (they come once a minute) and for a mode character not
# in the table, channel 2 is not shown: maternal HR must never be displayed as a second FHR.
DEFAULT_HR_ROLES = (HrRole.FETAL, HrRole.INOP)
HR_MODE_ROLES: dict[str, tuple[HrRole, HrRole]] = {
    "U": (HrRole.FETAL, HrRole.FETAL),  # ultrasound / ultrasound (twins)
    "E": (HrRole.FETAL, HrRole.FETAL),  # fetal ECG / ultrasound
    "M": (HrRole.FETAL, HrRole.MATERNAL),  # fetal / maternal ECG on channel 2
    "I": (HrRole.INOP, HrRole.INOP),
}

REQUEST_INCLUDES_MONITOR_ID = True  # PROVISIONAL: Figure 11-2 layout not retrieved
MAX_FRAME_BYTES = 64  # longest plausible message; longer runs without ETX are discarded
REQUEST_MAX_SELECTORS = 8


def build_frame(response_type: int, data: bytes = b"", monitor_type: int = MONITOR_TYPE_170,
                monitor_id: int = MONITOR_ID) -> bytes:
    """One monitor->host message."""
    return bytes((monitor_type, response_type, monitor_id)) + data + bytes((ETX,))


def hr_frame(channel: int, hr_bpm: int | None) -> bytes:
    value = HR_PENLIFT if hr_bpm is None else int(hr_bpm)
    return build_frame(RT_HR1 if channel == 1 else RT_HR2, b"%02d" % value)


def ua_frame(toco: int | None) -> bytes:
    return build_frame(RT_UA, b"%02d" % (UA_PENLIFT if toco is None else int(toco)))


def fm_frame(state: FetalMovementState) -> bytes:
    code = next(k for k, v in FM_CODES.items() if v is state)
    return build_frame(RT_FM, bytes((code,)))


def modes_frame(hr_mode: str, ua_mode: str) -> bytes:
    return build_frame(RT_MODES, (hr_mode + ua_mode).encode("ascii"))


def mark_frame() -> bytes:
    return build_frame(RT_MARK)


def paper_frame(paper_out: bool) -> bytes:
    return build_frame(RT_PAPER_OUT, bytes((PAPER_OUT if paper_out else PAPER_OK,)))


def build_request(selectors: Iterable[int], monitor_type: int = MONITOR_TYPE_170) -> bytes:
    """Host->monitor data request (Transmit/Receive mode); selectors are response-type codes."""
    sel = bytes(selectors)
    if not 1 <= len(sel) <= REQUEST_MAX_SELECTORS:
        raise ValueError(f"a request names 1..{REQUEST_MAX_SELECTORS} selectors, got {len(sel)}")
    head = bytes((monitor_type, MONITOR_ID)) if REQUEST_INCLUDES_MONITOR_ID else bytes((monitor_type,))
    return head + sel + bytes((ETX,))


def build_cancel(monitor_type: int = MONITOR_TYPE_170) -> bytes:
    return bytes((monitor_type, MONITOR_ID, ETX))


def parse_request(frame: bytes) -> list[int] | None:
    """Selectors of a host request (without ETX); [] = cancel; None = not a request."""
    if len(frame) < 2 or frame[0] not in MONITOR_TYPES:
        return None
    body = frame[2:] if REQUEST_INCLUDES_MONITOR_ID and frame[1] == MONITOR_ID else frame[1:]
    return [b for b in body if b in RESPONSE_TYPES]


def _digits(data: bytes) -> int | None:
    if not VALUE_DIGITS[0] <= len(data) <= VALUE_DIGITS[1] or not data.isdigit():
        return None
    return int(data)


class CorometricsDecoder:
    """Stream decoder; feed it whatever the port returned, in any chunking."""

    def __init__(self, hr_mode_roles: Mapping[str, tuple[HrRole, HrRole]] | None = None,
                 monitor_types: frozenset[int] = MONITOR_TYPES, transmit_receive: bool = False,
                 request_selectors: tuple[int, ...] = (RT_HR1, RT_HR2, RT_UA, RT_MODES, RT_MARK, RT_FM,
                                                       RT_PAPER_OUT)) -> None:
        self.stats = DecoderStats()
        self._buf = bytearray()
        self._roles_table = dict(HR_MODE_ROLES if hr_mode_roles is None else hr_mode_roles)
        self._monitor_types = monitor_types
        self._transmit_receive = transmit_receive
        self._selectors = request_selectors
        self._roles = DEFAULT_HR_ROLES
        self.modes: Modes | None = None
        self.paper_out: bool | None = None

    def hello(self) -> bytes:
        return build_request(self._selectors) if self._transmit_receive else b""

    def hr_roles(self) -> tuple[HrRole, HrRole]:
        return self._roles

    def feed(self, data: bytes) -> list[MonitorEvent]:
        self.stats.bytes_in += len(data)
        self._buf += data
        events: list[MonitorEvent] = []
        start = 0
        while True:
            end = self._buf.find(ETX, start)
            if end < 0:
                break
            event = self._frame(bytes(self._buf[start:end]))
            if event is not None:
                events.append(event)
            start = end + 1
        del self._buf[:start]
        if len(self._buf) > MAX_FRAME_BYTES:
            self.stats.framing_errors += 1
            self.stats.bytes_discarded += len(self._buf)
            self._buf.clear()
        return events

    def _last_header(self, frame: bytes) -> int:
        """Index > 0 of the last plausible header in a frame, or 0 (a lost ETX merges two messages)."""
        for i in range(len(frame) - 3, 0, -1):
            if frame[i] in self._monitor_types and frame[i + 2] == MONITOR_ID and RT_HR1 <= frame[i + 1] <= RT_LAST:
                return i
        return 0

    def _try(self, frame: bytes) -> tuple[MonitorEvent | None, str]:
        """(event, "") or (None, name of the error counter)."""
        if len(frame) < 3 or frame[0] not in self._monitor_types or frame[2] != MONITOR_ID or not frame.isascii():
            return None, "framing_errors"
        if frame[1] not in RESPONSE_TYPES:
            return None, "unknown_codes"
        event = self._decode(frame[1], frame[3:])
        return (event, "") if event is not None else (None, "bad_values")

    def _frame(self, frame: bytes) -> MonitorEvent | None:
        event, error = self._try(frame)
        if event is None:
            # Not a valid message as a whole: maybe noise or a message that lost its ETX sits in
            # front of a good one. Only then look for a later header, so that a valid message
            # (an annotation's free text) is never split into spurious values.
            i = self._last_header(frame)
            if i:
                event, _ = self._try(frame[i:])
                if event is not None:
                    self.stats.framing_errors += 1
                    self.stats.bytes_discarded += i
        if event is None:
            setattr(self.stats, error, getattr(self.stats, error) + 1)
            self.stats.bytes_discarded += len(frame) + 1
            return None
        self.stats.frames_ok += 1
        return event

    def _decode(self, code: int, data: bytes) -> MonitorEvent | None:
        if code in (RT_HR1, RT_HR2):
            hr = _digits(data)
            if hr is None or (hr != HR_PENLIFT and not HR_VALID_BPM[0] <= hr <= HR_VALID_BPM[1]):
                return None
            return HeartRate(1 if code == RT_HR1 else 2, None if hr == HR_PENLIFT else hr)
        if code == RT_UA:
            ua = _digits(data)
            if ua is None or (ua != UA_PENLIFT and not UA_VALID[0] <= ua <= UA_VALID[1]):
                return None
            return UterineActivity(None if ua == UA_PENLIFT else ua)
        if code == RT_MODES:
            if len(data) != 2 or not data.isalnum():
                return None
            modes = Modes(chr(data[0]), chr(data[1]))
            self.modes = modes
            self._roles = self._roles_table.get(modes.hr_mode, DEFAULT_HR_ROLES)
            return modes
        if code == RT_MARK:
            return EventMark() if not data else None
        if code == RT_FM:
            state = FM_CODES.get(data[0]) if len(data) == 1 else None
            return FetalMovement(state) if state is not None else None
        if code == RT_PAPER_OUT:
            if data not in (bytes((PAPER_OK,)), bytes((PAPER_OUT,))):
                return None
            self.paper_out = data[0] == PAPER_OUT
            return RecorderStatus(self.paper_out)
        return Annotation(code, data)


def _roles_from_config(raw: Any) -> dict[str, tuple[HrRole, HrRole]]:
    if not isinstance(raw, Mapping):
        raise ConfigError("hr_mode_roles: want a table mode-character -> [role1, role2]")
    table: dict[str, tuple[HrRole, HrRole]] = {}
    for key, pair in raw.items():
        if not (isinstance(key, str) and len(key) == 1) or not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ConfigError(f"hr_mode_roles[{key!r}]: want one character -> two of fetal/maternal/inop")
        try:
            table[key] = (HrRole(pair[0]), HrRole(pair[1]))
        except ValueError:
            raise ConfigError(f"hr_mode_roles[{key!r}]: roles must be fetal, maternal or inop") from None
    return table


def from_options(options: Mapping[str, Any]) -> CorometricsDecoder:
    """Factory for config: options `mode` ('update' | 'transmit_receive'), `hr_mode_roles`."""
    unknown = set(options) - {"mode", "hr_mode_roles"}
    if unknown:
        raise ConfigError(f"{PROTOCOL_NAME}: unknown option(s) {sorted(unknown)}")
    mode = options.get("mode", "update")
    if mode not in ("update", "transmit_receive"):
        raise ConfigError(f"{PROTOCOL_NAME}: mode must be 'update' or 'transmit_receive', got {mode!r}")
    roles = _roles_from_config(options["hr_mode_roles"]) if "hr_mode_roles" in options else None
    return CorometricsDecoder(hr_mode_roles=roles, transmit_receive=mode == "transmit_receive")


register_decoder(PROTOCOL_NAME, from_options)
