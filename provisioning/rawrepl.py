"""MicroPython's raw REPL over a serial line, as mpremote speaks it.

    enter:  CR, Ctrl-C, Ctrl-C (stop a running program), then CR, Ctrl-A
            -> "raw REPL; CTRL-B to exit\\r\\n>"
    exec:   the code, Ctrl-D -> "OK", stdout, Ctrl-D, stderr (the traceback), Ctrl-D, ">"
    leave:  CR, Ctrl-B (back to the friendly REPL)

The transport is anything with pyserial's `read(n)` (returning b"" on its timeout), `write`
and `reset_input_buffer`: a `serial.serial_for_url(...)` port in the field and in the tests
(a pty linked to the MicroPython unix port).
"""

from __future__ import annotations

import time
from typing import Protocol

from provisioning.errors import ProvisioningError

CTRL_A, CTRL_B, CTRL_C, CTRL_D = b"\x01", b"\x02", b"\x03", b"\x04"
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
OK = b"OK"
PROMPT = b">"
ENTER_TIMEOUT_S = 5.0
EXEC_TIMEOUT_S = 10.0


class SerialPort(Protocol):
    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...

    def reset_input_buffer(self) -> None: ...


class ReplError(ProvisioningError):
    """The board did not answer as a MicroPython raw REPL does, or the code raised on the board."""


class RawRepl:
    def __init__(self, port: SerialPort, *, name: str = "board") -> None:
        self._port = port
        self._name = name

    def _read_until(self, marker: bytes, timeout_s: float) -> bytes:
        data = b""
        deadline = time.monotonic() + timeout_s
        while not data.endswith(marker):
            if time.monotonic() > deadline:
                tail = data[-80:].decode(errors="replace")
                raise ReplError(f"{self._name}: no {marker!r} within {timeout_s} s (got {tail!r}); is a MicroPython "
                                "board on this port, at the right baud rate, with nothing else holding it?")
            try:
                data += self._port.read(1)
            except OSError as exc:  # pyserial's SerialException is one
                raise ReplError(f"{self._name}: the line went away ({exc}); check the cable and run again") from None
        return data[:-len(marker)]

    def enter(self) -> None:
        self._port.write(b"\r" + CTRL_C + CTRL_C)
        time.sleep(0.1)
        self._port.reset_input_buffer()
        self._port.write(b"\r" + CTRL_A)
        self._read_until(RAW_BANNER, ENTER_TIMEOUT_S)

    def leave(self) -> None:
        self._port.write(b"\r" + CTRL_B)

    def exec(self, code: str, timeout_s: float = EXEC_TIMEOUT_S) -> bytes:
        """Run `code` on the board; returns what it printed. ReplError with the board's traceback."""
        self._port.write(code.encode() + CTRL_D)
        answer = self._read_until(OK, timeout_s)
        if answer.strip(PROMPT + b"\r\n"):
            raise ReplError(f"{self._name}: the board did not accept the code ({answer[-80:]!r})")
        out = self._read_until(CTRL_D, timeout_s)
        err = self._read_until(CTRL_D, timeout_s)
        self._read_until(PROMPT, timeout_s)
        if err:
            raise ReplError(f"{self._name}: {err.decode(errors='replace').strip().splitlines()[-1]}")
        return out
