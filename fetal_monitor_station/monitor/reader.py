"""One reader thread per bed: open the port from its URL, decode, assemble, reconnect.

The port is opened with `serial.serial_for_url` (a device path, a pty or symlink to one,
`loop://`, `socket://`, `spy://`...), so tests, simulators and real monitors share this
code. Every read has a timeout; an unplugged port (EIO, no data on readiness) or a port that
cannot be opened is retried with backoff until `stop()`. Bad bytes never end the thread.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import serial

from fetal_monitor_station.monitor.assembler import RESYNC_S, SampleAssembler
from fetal_monitor_station.monitor.decoder import MonitorDecoder
from fetal_monitor_station.monitor.events import Modes, RecorderStatus
from fetal_monitor_station.trace import CtgSample

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 0.25
READ_CHUNK_BYTES = 4096
GAP_S = 1.5  # no byte for this long while connected counts as one gap
RECONNECT_MIN_S = 0.2
RECONNECT_MAX_S = 5.0
QUALITY_WINDOW = 7  # checkpoints kept, one every QUALITY_STEP_S
QUALITY_STEP_S = 10.0

SampleSink = Callable[[str, CtgSample], None]
PortOpener = Callable[..., Any]


@dataclass(frozen=True)
class LinkQuality:
    """What a technician needs to judge one bed's cable and monitor."""

    bed_id: str
    url: str
    connected: bool
    bytes_in: int
    frames_ok: int
    framing_errors: int
    unknown_codes: int
    bad_values: int
    gaps: int
    reconnects: int
    open_failures: int
    samples: int
    recent_valid_fraction: float  # valid frames / all frames over the last ~minute (1.0 if none)
    last_data_age_s: float | None
    last_error: str


class BedReader:
    def __init__(self, bed_id: str, url: str, decoder: MonitorDecoder, sink: SampleSink, *,
                 baudrate: int = 9600, opener: PortOpener = serial.serial_for_url,
                 clock: Callable[[], float] = time.time, time_scale: float = 1.0) -> None:
        self.bed_id = bed_id
        self.url = url
        self.decoder = decoder
        self._sink = sink
        self._baudrate = baudrate
        self._opener = opener
        self._clock = clock
        # A read returns up to READ_TIMEOUT_S of data stamped at once; an accelerated
        # clock (simulation runs) stretches that span, so the grid tolerance scales with it.
        self._assembler = SampleAssembler(RESYNC_S * max(1.0, time_scale))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._port: Any = None
        self.connected = False
        self.reconnects = 0
        self.open_failures = 0
        self.gaps = 0
        self.last_error = ""
        self.modes: Modes | None = None
        self.paper_out: bool | None = None
        self._last_data_s: float | None = None
        self._in_gap = False
        self._checkpoints: deque[tuple[int, int]] = deque(maxlen=QUALITY_WINDOW)
        self._checkpoint_at_s = 0.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"bed-{self.bed_id}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        port = self._port
        if port is not None:
            # Wake a blocked read; if the port cannot, the read times out within READ_TIMEOUT_S.
            with contextlib.suppress(AttributeError, OSError, serial.SerialException):
                port.cancel_read()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        backoff = RECONNECT_MIN_S
        ever_connected = False
        while not self._stop.is_set():
            try:
                self._port = self._opener(self.url, baudrate=self._baudrate, timeout=READ_TIMEOUT_S)
            except (serial.SerialException, OSError, ValueError) as exc:
                self.open_failures += 1
                self.last_error = f"open {self.url}: {exc}"
                self._stop.wait(backoff)
                backoff = min(backoff * 2, RECONNECT_MAX_S)
                continue
            backoff = RECONNECT_MIN_S
            if ever_connected:
                self.reconnects += 1
            ever_connected = True
            try:
                self._pump(self._port)
            except (serial.SerialException, OSError) as exc:
                self.last_error = f"lost {self.url}: {exc}"
                log.warning("bed %s: %s", self.bed_id, self.last_error)
            finally:
                self.connected = False
                with contextlib.suppress(serial.SerialException, OSError):  # already gone with the device
                    self._port.close()
                self._port = None
            self._stop.wait(RECONNECT_MIN_S)

    def _pump(self, port: Any) -> None:
        port.reset_input_buffer()  # bytes queued while nobody listened have no usable time
        hello = self.decoder.hello()
        if hello:
            port.write(hello)
        # connected only now: a byte the monitor sends from here on is read, none is flushed away
        self.connected = True
        log.info("bed %s: connected to %s", self.bed_id, self.url)
        while not self._stop.is_set():
            data = port.read(READ_CHUNK_BYTES)
            now_s = self._clock()
            if not data:
                if self._last_data_s is not None and now_s - self._last_data_s > GAP_S and not self._in_gap:
                    self._in_gap = True
                    self.gaps += 1
                continue
            self._in_gap = False
            self._last_data_s = now_s
            self.feed(data, now_s)

    def feed(self, data: bytes, now_s: float) -> None:
        """Decode bytes received at `now_s` and hand completed samples to the sink."""
        for event in self.decoder.feed(data):
            if isinstance(event, Modes):
                self.modes = event
            elif isinstance(event, RecorderStatus):
                self.paper_out = event.paper_out
            sample = self._assembler.push(event, now_s, self.decoder.hr_roles())
            if sample is not None:
                self._sink(self.bed_id, sample)
        if now_s - self._checkpoint_at_s >= QUALITY_STEP_S:
            self._checkpoint_at_s = now_s
            self._checkpoints.append((self.decoder.stats.frames_ok, self.decoder.stats.errors))

    def quality(self) -> LinkQuality:
        st = self.decoder.stats
        ok0, err0 = self._checkpoints[0] if self._checkpoints else (0, 0)
        d_ok, d_err = st.frames_ok - ok0, st.errors - err0
        recent = d_ok / (d_ok + d_err) if d_ok + d_err else 1.0
        age = None if self._last_data_s is None else max(0.0, self._clock() - self._last_data_s)
        return LinkQuality(self.bed_id, self.url, self.connected, st.bytes_in, st.frames_ok, st.framing_errors,
                           st.unknown_codes, st.bad_values, self.gaps + self._assembler.gaps, self.reconnects,
                           self.open_failures, self._assembler.samples, recent, age, self.last_error)
