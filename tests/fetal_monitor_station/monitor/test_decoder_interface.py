"""Another monitor family is one module: a decoder registered by name, nothing else changes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import serial

from fetal_monitor_station.monitor import BedReader, make_decoder
from fetal_monitor_station.monitor.decoder import DecoderStats, MonitorDecoder, register_decoder
from fetal_monitor_station.monitor.events import HeartRate, HrRole, MonitorEvent, UterineActivity
from fetal_monitor_station.trace import CtgSample
from tests.fetal_monitor_station.helpers import wait_for


class LineDecoder:
    """A toy family: 'H,<fhr>,<toco>\\n' lines (stands in for e.g. a Philips Series 50 module)."""

    def __init__(self) -> None:
        self.stats = DecoderStats()
        self._buf = b""

    def hello(self) -> bytes:
        return b""

    def hr_roles(self) -> tuple[HrRole, HrRole]:
        return (HrRole.FETAL, HrRole.INOP)

    def feed(self, data: bytes) -> list[MonitorEvent]:
        self.stats.bytes_in += len(data)
        *lines, self._buf = (self._buf + data).split(b"\n")
        out: list[MonitorEvent] = []
        for line in lines:
            parts = line.split(b",")
            if len(parts) == 3 and parts[0] == b"H" and parts[1].isdigit() and parts[2].isdigit():
                self.stats.frames_ok += 1
                out += [UterineActivity(int(parts[2])), HeartRate(1, int(parts[1]))]
            else:
                self.stats.framing_errors += 1
        return out


def _factory(options: Mapping[str, Any]) -> MonitorDecoder:
    return LineDecoder()


def test_a_registered_family_runs_through_the_same_reader() -> None:
    register_decoder("test-lines", _factory)
    ports: list[Any] = []

    def opener(url: str, **kw: Any) -> Any:
        ports.append(serial.serial_for_url(url, **kw))
        return ports[-1]

    got: list[CtgSample] = []
    r = BedReader("bed-07", "loop://", make_decoder("test-lines"), lambda b, s: got.append(s), opener=opener)
    r.start()
    try:
        assert wait_for(lambda: r.connected)
        ports[0].write(b"H,141,22\nnoise\nH,142,23\n")
        assert wait_for(lambda: len(got) == 2)
    finally:
        r.stop()
    assert [(s.fhr1_bpm, s.toco) for s in got] == [(141.0, 22.0), (142.0, 23.0)]
    assert r.quality().framing_errors == 1
