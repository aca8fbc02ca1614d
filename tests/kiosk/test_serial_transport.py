"""Transports from URLs, bounded reads, the pty server, the error hierarchy."""

from __future__ import annotations

import time

import pytest
import serial

from kiosk.errors import DeviceStatusError, DeviceTimeoutError, DeviceUnavailableError, KioskDeviceError
from kiosk.serial_transport import PtyServer, open_port, read_available, read_exact, wire_time_s


def test_loop_url_round_trip() -> None:
    port = open_port("loop://", device="test", timeout_s=0.1)
    try:
        port.write(b"hello")
        assert read_exact(port, 5, device="test", deadline=time.monotonic() + 1, what="echo") == b"hello"
        with pytest.raises(DeviceTimeoutError, match="timeout waiting for more") as err:
            read_exact(port, 1, device="test", deadline=time.monotonic() + 0.05, what="more")
        assert err.value.port == "loop://"
    finally:
        port.close()


def test_open_port_error_names_device_and_url() -> None:
    with pytest.raises(DeviceUnavailableError) as err:
        open_port("/dev/does-not-exist", device="idcard")
    assert str(err.value).startswith("idcard on /dev/does-not-exist: cannot open port")
    assert isinstance(err.value.__cause__, serial.SerialException)


def test_wire_time() -> None:
    assert wire_time_s(11520) == pytest.approx(1.0)


def test_pty_server_echo_and_stop() -> None:
    server: PtyServer

    def echo(data: bytes) -> None:
        server.write(data.upper())

    server = PtyServer(echo, name="echo")
    port = open_port(server.port_url, device="test", timeout_s=0.5)
    try:
        port.write(b"abc")
        assert read_exact(port, 3, device="test", deadline=time.monotonic() + 1, what="echo") == b"ABC"
        assert read_available(port, 0.05, device="test") == b""
    finally:
        port.close()
        server.stop()


def test_error_hierarchy() -> None:
    err = DeviceStatusError("epp", "KCV error", status=0xE7, port="/dev/ttyS1")
    assert isinstance(err, KioskDeviceError) and err.status == 0xE7
    assert str(err) == "epp on /dev/ttyS1: KCV error"
    assert str(KioskDeviceError("touch", "no device")) == "touch: no device"
