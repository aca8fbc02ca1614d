"""Host driver of the encrypted PIN pad. It never sees a PIN or a key it did not load itself."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kiosk.epp import crypto as c
from kiosk.epp import protocol as pr
from kiosk.epp.framing import Frame, KeyEvent, StreamDecoder, encode_frame
from kiosk.errors import DeviceStatusError, DeviceTimeoutError, FrameError, SecurityError
from kiosk.serial_transport import Transport, port_name, read_available, write_all

DEVICE = "epp"
RESPONSE_TIMEOUT_S = 1.0
READ_SLICE_S = 0.05
EVENT_QUEUE_MAX = 32
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyComponent:
    """One custodian's clear component and the KCV printed with it."""

    value: bytes = field(repr=False)
    kcv: bytes


@dataclass(frozen=True)
class EppStatus:
    authenticated: bool
    locked: bool
    attempts_left: int
    master_keys: int


def tdes_responder(auth_key: bytes) -> Callable[[bytes], bytes]:
    """Challenge responder for key-loading authentication (the key stays with the technician)."""
    return lambda challenge: c.encrypt_ecb(pr.AUTH_KEY_ALGORITHM, auth_key, challenge)


class PinPad:
    def __init__(self, transport: Transport, *, timeout_s: float = RESPONSE_TIMEOUT_S) -> None:
        self._port = transport
        self._timeout_s = timeout_s
        self._decoder = StreamDecoder()
        self._events: deque[KeyEvent] = deque()
        self.events_dropped = 0
        self.digits_entered = 0  # how many '*' to show; never which digits

    @property
    def port(self) -> str:
        return port_name(self._port)

    # --- commands -----------------------------------------------------------------------
    def version(self) -> str:
        return self._call(pr.Cmd.VERSION).decode("ascii", errors="replace")

    def status(self) -> EppStatus:
        data = self._call(pr.Cmd.STATUS)
        if len(data) != 5 or not data.isdigit():
            raise FrameError(DEVICE, "bad status answer", port=self.port)
        return EppStatus(data[0:1] == b"1", data[1:2] == b"1", int(data[2:3]), int(data[3:5]))

    def self_test(self) -> str:
        status = self.status()
        state = "LOCKED" if status.locked else f"{status.master_keys} master key(s)"
        return f"PIN pad {self.version()}: {state}"

    def authenticate(self, respond: Callable[[bytes], bytes]) -> None:
        challenge = self._hex_answer(self._call(pr.Cmd.GET_CHALLENGE))
        self._call(pr.Cmd.AUTHENTICATE, pr.hexa(respond(challenge)))

    def logout(self) -> None:
        self._call(pr.Cmd.LOGOUT)

    def load_master_key(self, slot: int, algorithm: c.Algorithm, components: Sequence[KeyComponent],
                        combined_kcv: bytes) -> bytes:
        """Key ceremony: each component's KCV is checked, then sent; the pad XORs them."""
        if not 1 <= len(components) <= 3:
            raise SecurityError(DEVICE, "a master key comes in 1 to 3 components", port=self.port)
        for number, comp in enumerate(components, 1):
            if c.kcv(algorithm, comp.value)[:len(comp.kcv)] != comp.kcv or len(comp.kcv) < 3:
                raise SecurityError(DEVICE, f"component {number}: KCV does not match, nothing sent",
                                    port=self.port)
        kcv = b""
        for number, comp in enumerate(components):
            part = pr.KeyPart.WHOLE if len(components) == 1 else (
                pr.KeyPart.FIRST_COMPONENT if number == 0 else pr.KeyPart.NEXT_COMPONENT)
            data = (pr.slot_hex(slot) + algorithm.value.encode("ascii") + part.value.encode("ascii")
                    + bytes((pr.KEY_LENGTH_CODES[len(comp.value)],)) + pr.hexa(comp.value))
            kcv = self._hex_answer(self._call(pr.Cmd.LOAD_MASTER_KEY, data))
        if kcv[:len(combined_kcv)] != combined_kcv or len(combined_kcv) < 3:
            raise SecurityError(DEVICE, f"master key {slot}: combined KCV {kcv.hex().upper()} does not match "
                                "the ceremony sheet; reload the slot", port=self.port)
        log.info("epp: master key %d loaded, KCV %s", slot, kcv[:3].hex().upper())
        return kcv

    def load_work_key(self, master_slot: int, work_slot: int, usage: pr.Usage, encrypted_key: bytes,
                      expected_kcv: bytes) -> bytes:
        """Load a work key enciphered under a master key; the pad refuses a KCV mismatch.

        The pad (not this driver) must also refuse a key value already loaded for another usage,
        in any slot and ever since it was first loaded: the simulator does, and a real pad must
        too, or ENCRYPT under a reloaded PIN key checks PIN guesses (docs/kiosk-devices.md)."""
        if not 3 <= len(expected_kcv) <= c.KCV_BYTES:
            raise SecurityError(DEVICE, "expected KCV must be 3 or 4 bytes", port=self.port)
        data = (pr.slot_hex(master_slot) + pr.slot_hex(work_slot) + bytes((usage,))
                + bytes((pr.KEY_LENGTH_CODES.get(len(encrypted_key), 0),)) + pr.hexa(encrypted_key)
                + pr.hexa(expected_kcv))
        kcv = self._hex_answer(self._call(pr.Cmd.LOAD_WORK_KEY, data))
        if kcv[:len(expected_kcv)] != expected_kcv:
            raise SecurityError(DEVICE, f"work key {work_slot}: KCV mismatch", port=self.port)
        return kcv

    def start_pin_entry(self, min_digits: int = 4, max_digits: int = 6, timeout_s: int = 30) -> None:
        self._events.clear()
        self.digits_entered = 0
        self._call(pr.Cmd.START_PIN_ENTRY, f"{min_digits:02d}{max_digits:02d}{timeout_s:03d}".encode("ascii"))

    def cancel_pin_entry(self) -> None:
        self._call(pr.Cmd.CANCEL_PIN_ENTRY)

    def next_key_event(self, timeout_s: float) -> KeyEvent | None:
        """Next keypad event (DIGIT/CLEAR/CANCEL/ENTER/TIMEOUT) or None after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not self._events:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            for item in self._read(remaining):
                if isinstance(item, Frame):
                    log.warning("epp: unexpected frame 0x%02X outside a command", item.code)
        event = self._events.popleft()
        self.digits_entered = {KeyEvent.DIGIT: self.digits_entered + 1}.get(event, 0)
        return event

    def pin_block(self, key_slot: int, pan: str, fmt: pr.PinFormat = pr.PinFormat.ISO0) -> bytes:
        """Enciphered PIN block of the PIN just entered, for ``pan`` (12-digit PAN field sent)."""
        data = pr.slot_hex(key_slot) + bytes((fmt,)) + c.pan_field(pan).encode("ascii")
        return self._hex_answer(self._call(pr.Cmd.GET_PIN_BLOCK, data))

    def mac(self, key_slot: int, data: bytes, algorithm: pr.MacAlgorithm = pr.MacAlgorithm.X919) -> bytes:
        return self._hex_answer(self._call(pr.Cmd.MAC, pr.slot_hex(key_slot) + bytes((algorithm,)) + pr.hexa(data)))

    def encrypt(self, key_slot: int, data: bytes) -> bytes:
        return self._hex_answer(self._call(pr.Cmd.ENCRYPT, pr.slot_hex(key_slot) + pr.hexa(data)))

    # --- internals ----------------------------------------------------------------------
    def _hex_answer(self, data: bytes) -> bytes:
        try:
            return pr.unhex(data)
        except ValueError as exc:
            raise FrameError(DEVICE, "answer data is not hex", port=self.port) from exc

    def _call(self, cmd: pr.Cmd, data: bytes = b"") -> bytes:
        log.debug("epp: command %s", cmd.name)  # never the data: it may carry key material
        write_all(self._port, encode_frame(cmd, data), device=DEVICE)
        deadline = time.monotonic() + self._timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            for item in self._read(remaining):
                if not isinstance(item, Frame):
                    continue
                if not pr.rtn_ok(item.code):
                    raise DeviceStatusError(DEVICE, f"{cmd.name}: {pr.rtn_text(item.code)}",
                                            status=item.code, port=self.port)
                return item.data
        raise DeviceTimeoutError(DEVICE, f"no answer to {cmd.name}", port=self.port)

    def _read(self, timeout_s: float) -> list[Frame]:
        chunk = read_available(self._port, min(timeout_s, READ_SLICE_S), device=DEVICE)
        frames: list[Frame] = []
        for item in self._decoder.feed(chunk):
            if isinstance(item, KeyEvent):
                if len(self._events) >= EVENT_QUEUE_MAX:
                    self._events.popleft()
                    self.events_dropped += 1
                self._events.append(item)
            elif isinstance(item, Frame):
                frames.append(item)
            else:
                raise FrameError(DEVICE, item.message, port=self.port)
        return frames
