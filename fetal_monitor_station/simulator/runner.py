"""Simulated Corometrics monitors on pseudo-terminals, played from any CtgSample iterable.

One scheduler thread drives every simulated bed at 4 ticks per second times `speed`
(1.0 = real time). In Transmit/Receive mode a monitor stays silent until the host requests
data and sends only the requested response types; a cancel silences it again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from fetal_monitor_station.monitor import corometrics as c
from fetal_monitor_station.simulator.encoder import TickEncoder
from fetal_monitor_station.simulator.pty_port import PtyPort
from fetal_monitor_station.trace import SAMPLE_HZ, CtgSample

MAX_CATCH_UP_TICKS = 8  # after a stall, skip ahead rather than burst more than this


class SimulatedMonitor:
    def __init__(self, bed_id: str, source: Iterable[CtgSample], port: PtyPort, *,
                 encoder: TickEncoder | None = None, transmit_receive: bool = False, loop: bool = False) -> None:
        self.bed_id = bed_id
        self.port = port
        self.encoder = encoder or TickEncoder()
        self._source = source
        self._it: Iterator[CtgSample] = iter(source)
        self._loop = loop
        self._transmit_receive = transmit_receive
        self._selected: frozenset[int] | None = None if not transmit_receive else frozenset()
        self._requests = bytearray()
        self.exhausted = False
        self.ticks = 0

    @property
    def url(self) -> str:
        return self.port.url

    def _next_sample(self) -> CtgSample:
        sample = next(self._it, None)
        if sample is None and self._loop:
            self._it = iter(self._source)
            sample = next(self._it, None)
        if sample is None:  # played out (or an empty source): the monitor keeps sending penlift
            self.exhausted = True
            return CtgSample(self.ticks / SAMPLE_HZ)
        return sample

    def _poll_requests(self) -> None:
        self._requests += self.port.read()
        while (end := self._requests.find(c.ETX)) >= 0:
            selectors = c.parse_request(bytes(self._requests[:end]))
            del self._requests[: end + 1]
            if selectors is not None:
                self._selected = frozenset(selectors)
        if len(self._requests) > c.MAX_FRAME_BYTES:
            self._requests.clear()

    def tick(self) -> None:
        """Send one 0.25 s worth of messages."""
        sample = self._next_sample()
        self.ticks += 1
        if not self.port.plugged:
            return
        if self._transmit_receive:
            self._poll_requests()
            if not self._selected:
                self.encoder.ticks += 1
                return
        data = self.encoder.encode(sample, self._selected)
        if data:
            self.port.write(data)


class Simulator:
    def __init__(self, speed: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self.monitors: list[SimulatedMonitor] = []
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.skipped_ticks = 0

    def add(self, bed_id: str, source: Iterable[CtgSample], link_path: Path | str | None = None,
            **options: bool) -> SimulatedMonitor:
        monitor = SimulatedMonitor(bed_id, source, PtyPort(link_path), **options)  # type: ignore[arg-type]
        self.monitors.append(monitor)
        return monitor

    def urls(self) -> dict[str, str]:
        return {m.bed_id: m.url for m in self.monitors}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ctg-simulator", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        period_s = 1.0 / (SAMPLE_HZ * self.speed)
        next_at = self._clock()
        while not self._stop.is_set():
            for m in list(self.monitors):
                m.tick()
            next_at += period_s
            lag = self._clock() - next_at
            if lag > MAX_CATCH_UP_TICKS * period_s:
                skipped = int(lag / period_s)
                self.skipped_ticks += skipped
                next_at += skipped * period_s
            self._stop.wait(max(0.0, next_at - self._clock()))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        for m in self.monitors:
            m.port.close()
