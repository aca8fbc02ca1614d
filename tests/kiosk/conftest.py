"""Shared fixtures for kiosk serial-device tests: simulators on pseudo-terminals."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import serial

from kiosk.serial_transport import open_port


@pytest.fixture
def open_pty_port() -> Iterator:
    """Factory opening a pty (or any URL) with pyserial; every port is closed in teardown."""
    opened: list[serial.SerialBase] = []

    def _open(url: str, device: str = "test", timeout_s: float = 0.5) -> serial.SerialBase:
        port = open_port(url, device=device, timeout_s=timeout_s)
        opened.append(port)
        return port

    yield _open
    for port in opened:
        port.close()


class ScriptedTransport:
    """A fake port that answers every write with fixed bytes (fuzzing drivers without a pty)."""

    def __init__(self, answer: bytes, name: str = "scripted") -> None:
        self.answer = answer
        self.port = name
        self.timeout: float | None = 0.0
        self._rx = bytearray()

    @property
    def in_waiting(self) -> int:
        return len(self._rx)

    def write(self, data: bytes) -> int:
        self._rx += self.answer
        return len(data)

    def read(self, size: int = 1) -> bytes:
        chunk = bytes(self._rx[:size])
        del self._rx[:size]
        return chunk

    def reset_input_buffer(self) -> None:
        self._rx.clear()
