"""Read the card on the SAM_V reader over a transport the caller opened (pyserial URL in config)."""

from __future__ import annotations

import time
from typing import Protocol

from fetal_monitor_station.idcard import protocol as p

ANSWER_TIMEOUT_S = 1.5  # a 30 01 answer is ~0.11 s on the wire at 115200 baud, plus the SAM's time


class Transport(Protocol):
    def write(self, data: bytes) -> int | None: ...

    def read(self, size: int = 1) -> bytes: ...

    def reset_input_buffer(self) -> None: ...


class IdCardReader:
    def __init__(self, transport: Transport, *, port: str = "", timeout_s: float = ANSWER_TIMEOUT_S) -> None:
        self._t = transport
        self._port = port or str(getattr(transport, "port", "") or "ID-card reader")
        self._timeout_s = timeout_s

    def _read(self, n: int, deadline: float) -> bytes:
        out = bytearray()
        while len(out) < n:
            chunk = self._t.read(n - len(out))
            if chunk:
                out += chunk
            elif time.monotonic() > deadline:
                raise p.CardError(f"ID-card reader {self._port}: no answer ({len(out)} of {n} bytes)")
        return bytes(out)

    def transact(self, command: int) -> p.Answer:
        try:
            self._t.reset_input_buffer()
            self._t.write(p.request(command))
            deadline = time.monotonic() + self._timeout_s
            header = self._read(p.HEADER_LEN, deadline)
            frame = header + self._read(p.remaining(header), deadline)
        except OSError as exc:  # pyserial's SerialException is an OSError
            raise p.CardError(f"ID-card reader {self._port}: {exc}") from None
        return p.answer(frame)

    def _expect(self, command: int, *ok: int) -> p.Answer:
        ans = self.transact(command)
        if ans.sw3 not in ok:
            raise p.CardError(f"ID-card reader {self._port}: command {command:04X}: {ans.status}")
        return ans

    def read(self) -> p.CardHolder | None:
        """The holder of the card on the reader, or None when there is none."""
        if self._expect(p.CMD_FIND_CARD, p.SW3_CARD_FOUND, p.SW3_NO_CARD).sw3 == p.SW3_NO_CARD:
            return None
        self._expect(p.CMD_SELECT_CARD, p.SW3_OK)
        return p.card_holder(self._expect(p.CMD_READ_TEXT_PHOTO, p.SW3_OK).data)


def open_reader(url: str, baudrate: int = 115200) -> IdCardReader:
    """A reader on a pyserial URL (device path, pty, socket://...)."""
    import serial

    try:
        port = serial.serial_for_url(url, baudrate=baudrate, timeout=0.1, write_timeout=1.0)
    except (serial.SerialException, ValueError) as exc:
        raise p.CardError(f"ID-card reader {url}: cannot open ({exc})") from None
    return IdCardReader(port, port=url)
