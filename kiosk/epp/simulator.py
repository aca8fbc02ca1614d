"""Encrypted PIN pad simulator: keeps keys and the PIN inside and answers only with KCVs,
ciphertexts and MACs.  ``press()`` stands for the customer's finger on the keypad.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from kiosk.epp import crypto as c
from kiosk.epp import protocol as pr
from kiosk.epp.framing import Frame, FrameError, KeyEvent, StreamDecoder, encode_frame
from kiosk.serial_transport import PtyServer, serve_until_signal

VERSION = "ZT598-SIM 1.0"
DEMO_AUTH_KEY = bytes.fromhex("0F1E2D3C4B5A69788796A5B4C3D2E1F0")  # synthetic, for simulators only
MAX_AUTH_FAILURES = 3
MAX_DATA_BYTES = 512
DIGIT_KEYS = frozenset("0123456789")
KEY_NAMES = {"CLEAR": KeyEvent.CLEAR, "CANCEL": KeyEvent.CANCEL, "ENTER": KeyEvent.ENTER}


class _Refused(Exception):
    def __init__(self, rtn: pr.Rtn) -> None:
        self.rtn = rtn


@dataclass
class _Key:
    algorithm: c.Algorithm
    value: bytes
    usage: pr.Usage | None = None  # None for a master key

    def __repr__(self) -> str:
        return f"_Key({self.algorithm.name}, {self.usage!r})"


class EppDevice:
    """Device-side logic; ``handle`` answers one request frame, ``press`` returns an event byte."""

    def __init__(self, auth_key: bytes, *, max_auth_failures: int = MAX_AUTH_FAILURES) -> None:
        self._auth_key = auth_key
        self._lock = threading.RLock()
        self._masters: dict[int, _Key] = {}
        self._work: dict[int, _Key] = {}
        # every work-key value ever loaded, by digest, with the usage it was first loaded for: a key
        # keeps that usage for the life of the pad, even after its slot is overwritten (else the PIN
        # key reloaded as a DATA key, in its own slot or after a detour, makes ENCRYPT a PIN-block oracle)
        self._usage_of: dict[bytes, pr.Usage] = {}
        self._challenge: bytes | None = None
        self.authenticated = False
        self.failures = 0
        self.max_auth_failures = max_auth_failures
        self._pin = ""
        self._entry = False
        self._pin_ready = False
        self._limits = (c.PIN_MIN_DIGITS, c.PIN_MAX_DIGITS)
        self._deadline = 0.0

    def __repr__(self) -> str:
        return f"EppDevice(masters={sorted(self._masters)}, work={sorted(self._work)})"

    @property
    def locked(self) -> bool:
        return self.failures >= self.max_auth_failures

    def tamper(self) -> None:
        """The case was opened: like a real EPP's tamper response, every key is erased at once (it
        then reports 0 master keys and refuses PIN blocks and MACs until a new key ceremony)."""
        with self._lock:
            self._masters.clear()
            self._work.clear()
            self._end_entry(keep=False)

    # --- keypad -------------------------------------------------------------------------
    def press(self, key: str) -> KeyEvent | None:
        """A key pressed: '0'..'9', 'CLEAR', 'CANCEL' or 'ENTER'; returns the byte to send, if any."""
        with self._lock:
            if not self._entry:
                return None
            if key in DIGIT_KEYS:
                if len(self._pin) >= self._limits[1]:
                    return None
                self._pin += key
                return KeyEvent.DIGIT
            event = KEY_NAMES.get(key)
            if event is KeyEvent.CLEAR:
                self._pin = ""
            elif event is KeyEvent.CANCEL:
                self._end_entry(keep=False)
            elif event is KeyEvent.ENTER:
                if len(self._pin) < self._limits[0]:
                    return None
                self._end_entry(keep=True)
            return event

    def tick(self) -> KeyEvent | None:
        with self._lock:
            if self._entry and time.monotonic() > self._deadline:
                self._end_entry(keep=False)
                return KeyEvent.TIMEOUT
            return None

    def _end_entry(self, *, keep: bool) -> None:
        self._entry = False
        self._pin_ready = keep
        if not keep:
            self._pin = ""

    # --- commands -----------------------------------------------------------------------
    def handle(self, frame: Frame) -> bytes:
        with self._lock:
            try:
                data = self._dispatch(frame.code, frame.data)
            except _Refused as exc:
                return encode_frame(exc.rtn)
            except (ValueError, KeyError, IndexError):
                return encode_frame(pr.Rtn.ILLEGAL_DATA)
            return encode_frame(pr.RTN_OK, data)

    def _dispatch(self, cmd: int, data: bytes) -> bytes:
        if cmd == pr.Cmd.VERSION:
            return VERSION.encode("ascii")
        if cmd == pr.Cmd.STATUS:
            return (f"{int(self.authenticated)}{int(self.locked)}"
                    f"{max(self.max_auth_failures - self.failures, 0)}{len(self._masters):02d}").encode("ascii")
        if cmd == pr.Cmd.GET_CHALLENGE:
            self._challenge = secrets.token_bytes(pr.CHALLENGE_BYTES)
            return pr.hexa(self._challenge)
        if cmd == pr.Cmd.AUTHENTICATE:
            return self._authenticate(data)
        if cmd == pr.Cmd.LOGOUT:
            self.authenticated = False
            return b""
        if cmd == pr.Cmd.LOAD_MASTER_KEY:
            return self._load_master(data)
        if cmd == pr.Cmd.LOAD_WORK_KEY:
            return self._load_work(data)
        if cmd == pr.Cmd.START_PIN_ENTRY:
            low, high, timeout = int(data[0:2]), int(data[2:4]), int(data[4:7])
            if len(data) != 7 or not c.PIN_MIN_DIGITS <= low <= high <= c.PIN_MAX_DIGITS or timeout < 1:
                raise _Refused(pr.Rtn.PARAMETER_ERROR)
            self._pin, self._pin_ready, self._entry = "", False, True
            self._limits, self._deadline = (low, high), time.monotonic() + timeout
            return b""
        if cmd == pr.Cmd.CANCEL_PIN_ENTRY:
            self._end_entry(keep=False)
            return b""
        if cmd == pr.Cmd.GET_PIN_BLOCK:
            return self._pin_block(data)
        if cmd == pr.Cmd.MAC:
            key = self._work_key(data[0:2], pr.Usage.MAC)
            payload = self._payload(data[3:])
            if data[2] == pr.MacAlgorithm.X919 and key.algorithm is c.Algorithm.TDES and len(key.value) == 16:
                return pr.hexa(c.x919_mac(key.value, payload))
            if data[2] == pr.MacAlgorithm.SM4_CBC and key.algorithm is c.Algorithm.SM4:
                return pr.hexa(c.sm4_cbc_mac(key.value, payload))
            raise _Refused(pr.Rtn.PARAMETER_ERROR)
        if cmd == pr.Cmd.ENCRYPT:
            key = self._work_key(data[0:2], pr.Usage.DATA)
            return pr.hexa(c.encrypt_ecb(key.algorithm, key.value, self._payload(data[2:])))
        raise _Refused(pr.Rtn.OTHER)

    def _payload(self, text: bytes) -> bytes:
        payload = pr.unhex(text)
        if len(payload) > MAX_DATA_BYTES:
            raise _Refused(pr.Rtn.LENGTH_ERROR)
        return payload

    def _authenticate(self, data: bytes) -> bytes:
        if self.locked:
            raise _Refused(pr.Rtn.AUTH_LOCKED)
        challenge, self._challenge = self._challenge, None
        expected = c.encrypt_ecb(pr.AUTH_KEY_ALGORITHM, self._auth_key, challenge) if challenge else None
        if expected is None or not secrets.compare_digest(pr.unhex(data), expected):
            self.failures += 1
            self.authenticated = False
            raise _Refused(pr.Rtn.AUTH_LOCKED if self.locked else pr.Rtn.AUTH_FAILED)
        self.failures = 0
        self.authenticated = True
        return b""

    def _key_from(self, algorithm: c.Algorithm, length_code: int, text: bytes) -> bytes:
        length = pr.KEY_LENGTHS.get(length_code)
        value = pr.unhex(text)
        if length is None or len(value) != length:
            raise _Refused(pr.Rtn.BAD_KEY_LENGTH)
        if algorithm is c.Algorithm.SM4 and length != c.SM4_KEY_LENGTH:
            raise _Refused(pr.Rtn.BAD_KEY_LENGTH)
        return value

    def _load_master(self, data: bytes) -> bytes:
        if self.locked:
            raise _Refused(pr.Rtn.AUTH_LOCKED)
        if not self.authenticated:
            raise _Refused(pr.Rtn.AUTH_FAILED)
        slot = int(pr.unhex(data[0:2])[0])
        algorithm, part = c.Algorithm(chr(data[2])), pr.KeyPart(chr(data[3]))
        if slot not in pr.MASTER_SLOTS:
            raise _Refused(pr.Rtn.NO_KEY_INDEX)
        value = self._key_from(algorithm, data[4], data[5:])
        if part is pr.KeyPart.NEXT_COMPONENT:
            current = self._masters.get(slot)
            if current is None or current.algorithm is not algorithm or len(current.value) != len(value):
                raise _Refused(pr.Rtn.NO_MASTER_KEY)
            value = c.xor_bytes(current.value, value)
        self._masters[slot] = _Key(algorithm, value)
        return pr.hexa(c.kcv(algorithm, value))

    def _load_work(self, data: bytes) -> bytes:
        master = self._masters.get(int(pr.unhex(data[0:2])[0]))
        slot, usage = int(pr.unhex(data[2:4])[0]), pr.Usage(data[4])
        if master is None:
            raise _Refused(pr.Rtn.NO_MASTER_KEY)
        if slot not in pr.WORK_SLOTS:
            raise _Refused(pr.Rtn.NO_KEY_INDEX)
        length = pr.KEY_LENGTHS.get(data[5], 0)
        value = c.decrypt_ecb(master.algorithm, master.value, self._key_from(
            master.algorithm, data[5], data[6:6 + 2 * length]))
        expected = pr.unhex(data[6 + 2 * length:])
        actual = c.kcv(master.algorithm, value)
        if not 3 <= len(expected) <= c.KCV_BYTES or not secrets.compare_digest(actual[:len(expected)], expected):
            raise _Refused(pr.Rtn.KCV_ERROR)
        digest = hashlib.sha256(value).digest()
        if self._usage_of.get(digest, usage) is not usage:  # one key value, one usage, for good
            raise _Refused(pr.Rtn.ILLEGAL_DATA)
        if any(m.value == value for m in self._masters.values()):
            raise _Refused(pr.Rtn.ILLEGAL_DATA)
        self._usage_of[digest] = usage
        self._work[slot] = _Key(master.algorithm, value, usage)
        return pr.hexa(actual)

    def _work_key(self, slot_text: bytes, usage: pr.Usage) -> _Key:
        key = self._work.get(int(pr.unhex(slot_text)[0]))
        if key is None or key.usage is not usage:
            raise _Refused(pr.Rtn.NO_SUCH_KEY)
        return key

    def _pin_block(self, data: bytes) -> bytes:
        key = self._work_key(data[0:2], pr.Usage.PIN)
        fmt = pr.PIN_FORMAT_NUMBER[pr.PinFormat(data[2])]
        pan12 = data[3:].decode("ascii")
        if not self._pin_ready:
            raise _Refused(pr.Rtn.ILLEGAL_DATA)
        pin, self._pin, self._pin_ready = self._pin, "", False  # one PIN block per entry
        return pr.hexa(c.encrypted_pin_block(pin, pan12, fmt, key.algorithm, key.value))


class EppHandle:
    """Simulator on a pty: ``port_url``, ``press(key)``, ``device``, ``stop()``."""

    def __init__(self, device: EppDevice) -> None:
        self.device = device
        self._decoder = StreamDecoder()
        self._server = PtyServer(self._on_bytes, name="epp", on_tick=self._on_tick, autostart=False)
        self.port_url = self._server.port_url
        self._server.start()  # only now may a tick write through self._server

    def press(self, *keys: str) -> None:
        for key in keys:
            event = self.device.press(key)
            if event is not None:
                self._server.write(bytes((event,)))

    def _on_bytes(self, data: bytes) -> None:
        for item in self._decoder.feed(data):
            if isinstance(item, Frame):
                self._server.write(self.device.handle(item))
            elif isinstance(item, FrameError):
                self._server.write(encode_frame(pr.Rtn.LENGTH_ERROR))

    def _on_tick(self) -> None:
        event = self.device.tick()
        if event is not None:
            self._server.write(bytes((event,)))

    def stop(self) -> None:
        self._server.stop()


def start_on_pty(auth_key: bytes = DEMO_AUTH_KEY, *, max_auth_failures: int = MAX_AUTH_FAILURES) -> EppHandle:
    """Start a PIN-pad simulator with an empty key store; ``auth_key`` authenticates key loading
    (``kiosk.epp.driver.tdes_responder(auth_key)`` answers its challenge)."""
    return EppHandle(EppDevice(auth_key, max_auth_failures=max_auth_failures))


if __name__ == "__main__":
    serve_until_signal(start_on_pty(), "epp")
