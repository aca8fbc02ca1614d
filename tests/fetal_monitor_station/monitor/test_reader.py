from __future__ import annotations

import threading
from typing import Any

import pytest
import serial

from fetal_monitor_station.monitor import BedReader, make_decoder
from fetal_monitor_station.monitor import corometrics as c
from fetal_monitor_station.simulator import Simulator
from fetal_monitor_station.trace import CtgSample
from tests.fetal_monitor_station.helpers import steady, wait_for


class Collect:
    def __init__(self) -> None:
        self.samples: list[CtgSample] = []
        self.lock = threading.Lock()

    def __call__(self, bed_id: str, s: CtgSample) -> None:
        with self.lock:
            self.samples.append(s)


def test_reader_over_loop_url_decodes_and_reports_quality() -> None:
    ports: list[Any] = []

    def opener(url: str, **kw: Any) -> Any:
        ports.append(serial.serial_for_url(url, **kw))
        return ports[-1]

    out = Collect()
    r = BedReader("bed-01", "loop://", make_decoder("corometrics-115"), out, opener=opener)
    r.start()
    try:
        assert wait_for(lambda: r.connected)
        ports[0].write(c.modes_frame("M", "T") + c.hr_frame(2, 90) + b"\xff\x03" + c.hr_frame(1, 140))
        assert wait_for(lambda: len(out.samples) == 1)
        q = r.quality()
        assert out.samples[0].fhr1_bpm == 140.0 and out.samples[0].mhr_bpm == 90.0
        assert q.connected and q.frames_ok == 3 and q.framing_errors == 1 and q.samples == 1
        assert r.modes is not None and r.modes.hr_mode == "M"
    finally:
        r.stop()
    assert not r.connected


def test_open_failures_are_retried_until_stop() -> None:
    r = BedReader("bed-02", "/nonexistent/tty-ctg", make_decoder("corometrics-115"), Collect())
    r.start()
    try:
        assert wait_for(lambda: r.open_failures >= 2)
        assert "/nonexistent/tty-ctg" in r.quality().last_error
    finally:
        r.stop()
    assert r._thread is not None and not r._thread.is_alive()


@pytest.mark.integration
def test_unplug_and_replug_on_a_pty(tmp_path: Any) -> None:
    sim = Simulator(speed=1.0)
    monitor = sim.add("bed-01", steady(100_000, t0_s=0), tmp_path / "bed-01")
    out = Collect()
    r = BedReader("bed-01", monitor.url, make_decoder("corometrics-115"), out)
    sim.start()
    r.start()
    try:
        assert wait_for(lambda: len(out.samples) >= 4)
        monitor.port.unplug()
        assert wait_for(lambda: not r.connected, 3.0)
        n_unplugged = len(out.samples)
        monitor.port.replug()
        assert wait_for(lambda: r.connected and len(out.samples) >= n_unplugged + 4, 10.0)
        q = r.quality()
        assert q.reconnects == 1 and q.framing_errors <= 1
        times = [s.t_s for s in out.samples]
        assert times == sorted(times) and len(set(times)) == len(times)
    finally:
        r.stop()
        sim.stop()
