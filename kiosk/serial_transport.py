"""Serial transports for kiosk peripherals: ports opened from URLs, bounded reads, pty simulators.

Drivers never open hardware themselves: the application (or a test) calls :func:`open_port`
with the URL from the configuration (``/dev/ttyUSB0``, ``/dev/pts/7``, ``loop://``,
``spy:///dev/ttyUSB0``, ``socket://host:port``) and hands the object to the driver.
Simulators speak from the device side of a pseudo-terminal through :class:`PtyServer`.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
import tty
from collections.abc import Callable
from typing import Protocol

import serial

from kiosk.errors import ConfigError, DeviceTimeoutError, DeviceUnavailableError, KioskDeviceError

DEFAULT_BAUD = 115200
DEFAULT_TIMEOUT_S = 0.5
BITS_PER_BYTE_8N1 = 10  # start + 8 data + stop
PTY_POLL_S = 0.01
PTY_READ_CHUNK = 4096
PACE_CHUNK_BYTES = 16
log = logging.getLogger(__name__)


class Transport(Protocol):
    """The subset of a pyserial port a driver uses."""

    timeout: float | None

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...

    def reset_input_buffer(self) -> None: ...


def port_name(port: object) -> str:
    """Best human name of a transport for error messages."""
    return str(getattr(port, "port", None) or getattr(port, "name", None) or port)


# pyserial URL schemes a production configuration may use. `spy://` logs every byte (for the PIN
# pad: key components and PIN blocks), `loop://` talks to nobody, `alt://`/`hwgrep://` pick a port or
# a back end indirectly: none of them belongs on a kiosk in front of patients.
PRODUCTION_SCHEMES = frozenset({"", "socket", "rfc2217"})
SIMULATION_SCHEMES = PRODUCTION_SCHEMES | {"loop"}
LOCAL_ONLY_DEVICES = frozenset({"epp"})  # its line carries key components and PIN blocks: a local port only


def check_port_url(url: str, *, device: str, simulation: bool = False) -> str:
    """The URL if its scheme is allowed for `device` (a plain device path has none), else ConfigError."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    allowed = SIMULATION_SCHEMES if simulation else PRODUCTION_SCHEMES
    if device in LOCAL_ONLY_DEVICES and not simulation:
        allowed = frozenset({""})
    if scheme not in allowed:
        shown = ", ".join(f"{s}://" if s else "a device path" for s in sorted(allowed))
        raise ConfigError(device, f"port {url!r}: scheme {scheme}:// is not allowed here; use {shown}")
    if scheme == "" and not url.startswith("/dev/"):
        raise ConfigError(device, f"port {url!r}: a device path must be under /dev/")
    return url


def open_port(url: str, *, device: str, baudrate: int = DEFAULT_BAUD,
              timeout_s: float = DEFAULT_TIMEOUT_S) -> serial.SerialBase:
    """Open a serial port from a pyserial URL; errors name the device and the URL."""
    try:
        return serial.serial_for_url(url, baudrate=baudrate, timeout=timeout_s, write_timeout=timeout_s)
    except (serial.SerialException, ValueError, OSError) as exc:
        raise DeviceUnavailableError(device, f"cannot open port: {exc}", port=url) from exc


def wire_time_s(n_bytes: int, baudrate: int = DEFAULT_BAUD) -> float:
    """Time ``n_bytes`` take on an 8N1 line at ``baudrate``."""
    return n_bytes * BITS_PER_BYTE_8N1 / baudrate


def read_exact(port: Transport, size: int, *, device: str, deadline: float, what: str) -> bytes:
    """Read exactly ``size`` bytes before the monotonic ``deadline`` or raise DeviceTimeoutError."""
    buf = bytearray()
    while len(buf) < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeviceTimeoutError(device, f"timeout waiting for {what} ({len(buf)}/{size} bytes)",
                                     port=port_name(port))
        port.timeout = remaining
        try:
            chunk = port.read(size - len(buf))
        except (serial.SerialException, OSError) as exc:
            raise KioskDeviceError(device, f"read failed: {exc}", port=port_name(port)) from exc
        buf.extend(chunk)
    return bytes(buf)


def read_available(port: Transport, timeout_s: float, *, device: str) -> bytes:
    """Wait up to ``timeout_s`` for a first byte, then take whatever else has arrived."""
    port.timeout = max(timeout_s, 0.001)
    try:
        first = port.read(1)
        return first + port.read(port.in_waiting) if first else b""
    except (serial.SerialException, OSError) as exc:
        raise KioskDeviceError(device, f"read failed: {exc}", port=port_name(port)) from exc


def write_all(port: Transport, data: bytes, *, device: str) -> None:
    """Write a frame, wrapping pyserial errors."""
    try:
        port.write(data)
    except (serial.SerialException, OSError) as exc:
        raise KioskDeviceError(device, f"write failed: {exc}", port=port_name(port)) from exc


class PtyServer:
    """Device side of a pseudo-terminal, served by a thread.

    ``on_bytes`` is called with every chunk the host writes; ``on_tick`` (optional) is called
    about every 10 ms for time-driven behaviour, from the moment the thread starts.  ``port_url`` is the slave path a driver opens
    with :func:`open_port`.  ``stop()`` ends the thread and closes both ends.
    """

    def __init__(self, on_bytes: Callable[[bytes], None], *, name: str,
                 on_tick: Callable[[], None] | None = None, baudrate: int | None = None,
                 autostart: bool = True) -> None:
        self._on_bytes = on_bytes
        self._on_tick = on_tick
        self.baudrate = baudrate  # pace writes at this wire speed when set
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port_url = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"{name}-sim", daemon=True)
        if autostart:
            self._thread.start()

    def start(self) -> None:
        """Start serving (with ``autostart=False``: once the owner that ``on_tick`` calls back into
        holds this server; a tick before that would lose what the device had to say)."""
        self._thread.start()

    def write(self, data: bytes) -> None:
        """Send bytes to the host, paced at ``baudrate`` when set."""
        with self._write_lock:
            if self.baudrate is None:
                self._write_raw(data)
                return
            start = time.monotonic()
            for offset in range(0, len(data), PACE_CHUNK_BYTES):
                chunk = data[offset:offset + PACE_CHUNK_BYTES]
                due = start + wire_time_s(offset + len(chunk), self.baudrate)
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self._write_raw(chunk)

    def _write_raw(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._stop.is_set():
            try:
                written = os.write(self._master, view)
            except BlockingIOError:
                time.sleep(PTY_POLL_S)
                continue
            except OSError:
                return
            view = view[written:]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], PTY_POLL_S)
                data = os.read(self._master, PTY_READ_CHUNK) if ready else b""
            except (OSError, ValueError):
                return
            try:
                if data:
                    self._on_bytes(data)
                if self._on_tick is not None:
                    self._on_tick()
            except Exception:  # a simulator bug must not silently kill the device thread
                log.exception("%s: simulator handler failed", self._thread.name)

    def stop(self) -> None:
        """Stop the thread and close the pseudo-terminal."""
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> PtyServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Stoppable(Protocol):
    port_url: str

    def stop(self) -> None: ...


def serve_until_signal(handle: _Stoppable, name: str) -> None:
    """Run a simulator in the foreground (``python -m kiosk.<device>.simulator``).

    Prints ``<name> <port_url>`` on stdout, then waits for SIGINT/SIGTERM and stops the handle.
    """
    import signal

    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    print(f"{name} {handle.port_url}", flush=True)
    try:
        done.wait()
    finally:
        handle.stop()
