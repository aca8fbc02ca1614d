"""Plug a virtual card into pcscd's vpcd virtual reader (vsmartcard ``vpcd`` driver).

vpcd (configured in /etc/reader.conf.d/vpcd, ``CHANNELID 0x8C7B`` = TCP 35963) listens for one
virtual card per slot. Every message both ways is a 2-byte big-endian length and a payload.
A 1-byte payload from vpcd is a control code (power off/on, reset, ATR request, answered with the
ATR); any longer payload is a command APDU, answered with the response APDU. An empty ATR makes
vpcd drop the card: that is how a mute chip (or a stripe-only card) looks from pcscd.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from typing import Protocol

from kiosk.bankcard.errors import BankCardError

VPCD_DEFAULT_HOST = "127.0.0.1"
VPCD_DEFAULT_PORT = 35963
VPCD_CTRL_LEN = 1
VPCD_CTRL_OFF = 0x00
VPCD_CTRL_ON = 0x01
VPCD_CTRL_RESET = 0x02
VPCD_CTRL_ATR = 0x04
LENGTH_HEADER = struct.Struct(">H")
RECV_SLICE_S = 0.2
CONNECT_RETRY_S = 0.1
log = logging.getLogger(__name__)


class VirtualCard(Protocol):
    @property
    def atr(self) -> bytes: ...

    def reset(self) -> None: ...

    def process(self, raw: bytes) -> bytes: ...


def encode_message(payload: bytes) -> bytes:
    if len(payload) > 0xFFFF:
        raise BankCardError("vpcd message longer than 65535 bytes")
    return LENGTH_HEADER.pack(len(payload)) + payload


class VpcdCardLink:
    """Inserts ``card`` into the vpcd reader at ``host:port`` (a TCP client) until removed.

    With ``stay_inserted`` the link reconnects whenever vpcd goes away (pcscd restart), as a
    card left in a reader would reappear to the new daemon.
    """

    def __init__(self, card: VirtualCard, *, host: str = VPCD_DEFAULT_HOST, port: int = VPCD_DEFAULT_PORT,
                 stay_inserted: bool = True) -> None:
        self.card = card
        self.host = host
        self.port = port
        self.stay_inserted = stay_inserted
        self.connections = 0
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    def insert(self) -> VpcdCardLink:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"vpcd-card-{self.port}", daemon=True)
        self._thread.start()
        return self

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def remove(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._thread = None

    stop = remove

    def __enter__(self) -> VpcdCardLink:
        return self.insert()

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sock = socket.create_connection((self.host, self.port), timeout=RECV_SLICE_S)
            except OSError:
                time.sleep(CONNECT_RETRY_S)
                continue
            sock.settimeout(RECV_SLICE_S)
            self._sock = sock
            self.connections += 1
            self._connected.set()
            try:
                self._serve(sock)
            except OSError as exc:
                log.debug("vpcd link closed: %s", exc)
            finally:
                self._connected.clear()
                self._sock = None
                sock.close()
            if not self.stay_inserted:
                break

    def _recv_exact(self, sock: socket.socket, n: int) -> bytes | None:
        buf = b""
        while len(buf) < n:
            if self._stop.is_set():
                return None
            try:
                chunk = sock.recv(n - len(buf))
            except TimeoutError:
                continue
            if not chunk:
                return None
            buf += chunk
        return buf

    def _serve(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            header = self._recv_exact(sock, LENGTH_HEADER.size)
            if header is None:
                return
            (length,) = LENGTH_HEADER.unpack(header)
            payload = self._recv_exact(sock, length) if length else b""
            if payload is None:
                return
            if len(payload) == VPCD_CTRL_LEN:
                if payload[0] == VPCD_CTRL_ATR:
                    sock.sendall(encode_message(self.card.atr))
                    if not self.card.atr:  # mute: vpcd drops us; do not come back
                        self._stop.set()
                        return
                elif payload[0] in (VPCD_CTRL_ON, VPCD_CTRL_RESET, VPCD_CTRL_OFF):
                    self.card.reset()
                continue
            sock.sendall(encode_message(self.card.process(payload)))
