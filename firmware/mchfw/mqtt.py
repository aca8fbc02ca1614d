"""A small MQTT 3.1.1 client over any stream (plain or TLS socket, or a test fake).

CONNECT (with will, persistent session), PUBLISH QoS 0/1 with PUBACK tracking, SUBSCRIBE,
PINGREQ, DISCONNECT. No reconnect policy here (robust.py adds it). Incoming QoS 1 messages
are acknowledged after the handler returns. Every wait has a deadline.
"""

import struct
import time

CONNECT = 0x10
CONNACK = 0x20
PUBLISH = 0x30
PUBACK = 0x40
SUBSCRIBE = 0x82
SUBACK = 0x90
PINGREQ = 0xC0
PINGRESP = 0xD0
DISCONNECT = 0xE0
PROTOCOL_NAME = b"MQTT"
PROTOCOL_LEVEL_311 = 4
FLAG_CLEAN = 0x02
FLAG_WILL = 0x04
FLAG_WILL_RETAIN = 0x20
FLAG_USERNAME = 0x80
FLAG_PASSWORD = 0x40
DUP = 0x08
SUBACK_FAILURE = 0x80
MAX_REMAINING = 268435455
MAX_PACKET = 256 * 1024  # refuse anything bigger from the broker
DEFAULT_TIMEOUT_MS = 5000


class MQTTError(Exception):
    """Protocol error, refused connection or timeout; the connection is unusable afterwards."""


def _ticks_ms() -> int:
    return time.ticks_ms() if hasattr(time, "ticks_ms") else int(time.monotonic() * 1000)  # type: ignore[attr-defined,return-value]


def _elapsed(start: int) -> int:
    if hasattr(time, "ticks_diff"):
        return time.ticks_diff(_ticks_ms(), start)  # type: ignore[attr-defined,return-value]
    return _ticks_ms() - start


def _str(s) -> bytes:
    b = s if isinstance(s, bytes) else s.encode()
    return struct.pack(">H", len(b)) + b


def _remaining(n: int) -> bytes:
    if n > MAX_REMAINING:
        raise MQTTError("packet too large")
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + _remaining(len(body)) + body


class Client:
    def __init__(self, client_id: str, keepalive_s: int = 30, clean_session: bool = False,
                 timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        self.client_id = client_id
        self.keepalive_s = keepalive_s
        self.clean_session = clean_session
        self.timeout_ms = timeout_ms
        self.will: tuple | None = None  # (topic, payload, qos, retain)
        self.sock: object = None
        self.pid = 0
        self.unacked: dict = {}  # pid -> topic, QoS 1 publishes the broker has not PUBACKed
        self.on_message = None  # fn(topic: str, payload: bytes, dup: bool)
        self.last_tx = 0
        self.ping_outstanding = False

    def set_will(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.will = (topic, payload, qos, retain)

    # -- I/O --------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        try:
            view = memoryview(data)
            sent = 0
            while sent < len(data):
                n = self.sock.write(view[sent:])  # type: ignore[attr-defined,return-value]
                if n is None or n <= 0:
                    raise MQTTError("connection closed while writing")
                sent += n
        except OSError as exc:
            raise MQTTError(f"write failed: {exc!r}") from None
        self.last_tx = _ticks_ms()

    def _read(self, n: int, timeout_ms: int) -> bytes:
        out = b""
        start = _ticks_ms()
        while len(out) < n:
            if _elapsed(start) > timeout_ms:
                raise MQTTError("timeout reading from the broker")
            try:
                chunk = self.sock.read(n - len(out))  # type: ignore[attr-defined,return-value]
            except OSError as exc:
                if exc.args and exc.args[0] in (11, 110, 116):  # EAGAIN, ETIMEDOUT: keep waiting
                    continue
                raise MQTTError(f"read failed: {exc!r}") from None
            if chunk is None:
                continue
            if not chunk:
                raise MQTTError("connection closed by the broker")
            out += chunk
        return out

    def _read_packet(self, timeout_ms: int):
        first = self._read(1, timeout_ms)[0]
        n, shift = 0, 0
        while True:
            b = self._read(1, timeout_ms)[0]
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
            if shift > 21:
                raise MQTTError("bad remaining length")
        if n > MAX_PACKET:
            raise MQTTError(f"packet of {n} bytes refused")
        return first, self._read(n, timeout_ms) if n else b""

    # -- session ----------------------------------------------------------------------
    def connect(self, sock) -> bool:
        """Send CONNECT on an open stream; returns session_present. Raises MQTTError."""
        self.sock = sock
        flags = 0 if not self.clean_session else FLAG_CLEAN
        body = bytearray(_str(PROTOCOL_NAME))
        payload = bytearray(_str(self.client_id))
        if self.will is not None:
            topic, msg, qos, retain = self.will
            flags |= FLAG_WILL | (qos << 3) | (FLAG_WILL_RETAIN if retain else 0)
            payload += _str(topic) + struct.pack(">H", len(msg)) + msg
        body += bytes((PROTOCOL_LEVEL_311, flags)) + struct.pack(">H", self.keepalive_s)
        self._write(packet(CONNECT, bytes(body + payload)))
        first, data = self._read_packet(self.timeout_ms)
        if first != CONNACK or len(data) != 2:
            raise MQTTError(f"expected CONNACK, got 0x{first:02x}")
        if data[1] != 0:
            raise MQTTError(f"connection refused, return code {data[1]}")
        self.ping_outstanding = False
        return bool(data[0] & 1)

    def _next_pid(self) -> int:
        self.pid = self.pid % 65535 + 1
        return self.pid

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int:
        pid = self._next_pid() if qos else 0
        body = _str(topic) + (struct.pack(">H", pid) if qos else b"") + payload
        self._write(packet(PUBLISH | (qos << 1) | (1 if retain else 0), body))
        if qos:
            self.unacked[pid] = topic
        return pid

    def subscribe(self, topic: str, qos: int = 1) -> None:
        pid = self._next_pid()
        self._write(packet(SUBSCRIBE, struct.pack(">H", pid) + _str(topic) + bytes((qos,))))
        start = _ticks_ms()
        while _elapsed(start) < self.timeout_ms:
            first = self.poll(self.timeout_ms)
            if first == SUBACK:
                return
        raise MQTTError(f"no SUBACK for {topic}")

    def ping(self) -> None:
        self._write(packet(PINGREQ, b""))
        self.ping_outstanding = True

    def keepalive_due(self) -> bool:
        return _elapsed(self.last_tx) > self.keepalive_s * 1000 // 2

    def disconnect(self) -> None:
        try:
            self._write(packet(DISCONNECT, b""))
        except MQTTError:
            pass
        self.close()

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()  # type: ignore[attr-defined,return-value]
            except OSError:
                pass
        self.sock = None

    def readable(self, timeout_ms: int) -> bool:
        """True if the broker sent something; a stream may bring its own `wait_readable`."""
        wait = getattr(self.sock, "wait_readable", None)
        if wait is not None:
            return bool(wait(timeout_ms))
        import select

        p = select.poll()
        p.register(self.sock, select.POLLIN)
        return bool(p.poll(timeout_ms))

    def poll(self, timeout_ms: int = 0):
        """Handle at most one incoming packet if one arrives within timeout_ms; returns its type."""
        if not self.readable(timeout_ms):
            return None
        first, data = self._read_packet(self.timeout_ms)
        kind = first & 0xF0
        if kind == PUBLISH:
            self._on_publish(first, data)
        elif kind == PUBACK and len(data) == 2:
            self.unacked.pop(struct.unpack(">H", data)[0], None)
        elif kind == SUBACK:
            if len(data) < 3 or data[2] == SUBACK_FAILURE:
                raise MQTTError("subscription refused")
        elif kind == PINGRESP:
            self.ping_outstanding = False
        return kind

    def _on_publish(self, first: int, data: bytes) -> None:
        qos = (first >> 1) & 0x03
        if len(data) < 2:
            raise MQTTError("short PUBLISH")
        tlen = struct.unpack(">H", data[:2])[0]
        pos = 2 + tlen
        try:
            topic = bytes(data[2:pos]).decode()
        except UnicodeError:
            raise MQTTError("topic is not UTF-8") from None
        pid = 0
        if qos:
            if len(data) < pos + 2:
                raise MQTTError("short PUBLISH")
            pid = struct.unpack(">H", data[pos:pos + 2])[0]
            pos += 2
        if self.on_message is not None:
            self.on_message(topic, bytes(data[pos:]), bool(first & DUP))
        if qos == 1:
            self._write(packet(PUBACK, struct.pack(">H", pid)))
