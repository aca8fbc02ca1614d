from __future__ import annotations

from pathlib import Path

import pytest

from fetal_monitor_station.monitor import BedReader, make_decoder
from fetal_monitor_station.monitor import corometrics as c
from fetal_monitor_station.monitor.assembler import SampleAssembler
from fetal_monitor_station.simulator import Simulator, TickEncoder
from fetal_monitor_station.simulator.encoder import HR_MODE_MATERNAL, HR_MODE_TWINS
from fetal_monitor_station.simulator.sources import synthetic_sources
from fetal_monitor_station.trace import CtgSample
from tests.fetal_monitor_station.helpers import steady, wait_for


def _decode(encoder: TickEncoder, samples: list[CtgSample]) -> list[CtgSample]:
    d = c.CorometricsDecoder()
    a = SampleAssembler()
    out = []
    for i, s in enumerate(samples):
        for ev in d.feed(encoder.encode(s)):
            got = a.push(ev, 1000.0 + i / 4, d.hr_roles())
            if got is not None:
                out.append(got)
    assert d.stats.errors == 0
    return out


def test_encode_decode_round_trip_with_maternal_channel() -> None:
    src = steady(500)
    got = _decode(TickEncoder(hr_mode=HR_MODE_MATERNAL), src)
    assert len(got) == len(src)
    for a, b in zip(src, got, strict=True):
        assert (round(a.fhr1_bpm or 0), a.mhr_bpm, round(a.toco or 0), a.movement, a.mark) == \
            (b.fhr1_bpm, b.mhr_bpm, b.toco, b.movement, b.mark)
        assert b.fhr2_bpm is None


def test_twins_mode_and_penlift() -> None:
    src = [CtgSample(i / 4, 140.0, 150.0 if i % 2 else None, None, None) for i in range(8)]
    got = _decode(TickEncoder(hr_mode=HR_MODE_TWINS), src)
    assert [s.fhr2_bpm for s in got] == [None, 150.0] * 4
    assert all(s.toco is None for s in got)


def test_out_of_range_values_become_penlift() -> None:
    got = _decode(TickEncoder(), [CtgSample(0, 20.0, None, None, 500.0), CtgSample(0.25, 260.0, None, None, -3)])
    assert [s.fhr1_bpm for s in got] == [None, None]
    assert [s.toco for s in got] == [127.0, 0.0]


def test_synthetic_sources_replay() -> None:
    beds = synthetic_sources(3, seed=2, duration_s=60)
    assert [b for b, _ in beds] == ["bed-01", "bed-02", "bed-03"]
    first = list(beds[0][1])
    assert len(first) == 240 and list(beds[0][1]) == first


@pytest.mark.integration
def test_simulator_serves_several_beds_faster_than_real_time(tmp_path: Path) -> None:
    sim = Simulator(speed=8.0)
    for bed_id, src in synthetic_sources(3, seed=5, duration_s=600):
        sim.add(bed_id, src, tmp_path / bed_id)
    got: dict[str, list[CtgSample]] = {b: [] for b in sim.urls()}
    readers = [BedReader(b, u, make_decoder("corometrics-115"), lambda b, s: got[b].append(s),
                         clock=_fast_clock(8.0), time_scale=8.0) for b, u in sim.urls().items()]
    for r in readers:
        r.start()
    assert wait_for(lambda: all(r.connected for r in readers))
    sim.start()
    try:
        assert wait_for(lambda: all(len(v) >= 40 for v in got.values()), 10.0)
        assert all(r.quality().framing_errors + r.quality().bad_values == 0 for r in readers)
        assert sum(m.port.dropped_bytes for m in sim.monitors) == 0
    finally:
        for r in readers:
            r.stop()
        sim.stop()


def _fast_clock(speed: float):  # type: ignore[no-untyped-def]
    from fetal_monitor_station.runtime import scaled_clock

    return scaled_clock(speed)


@pytest.mark.integration
def test_transmit_receive_mode_sends_only_after_a_request(tmp_path: Path) -> None:
    sim = Simulator(speed=4.0)
    m = sim.add("bed-01", steady(10_000), tmp_path / "bed-01", transmit_receive=True)
    sim.start()
    try:
        silent = BedReader("bed-01", m.url, make_decoder("corometrics-115"), lambda b, s: None)
        silent.start()
        assert wait_for(lambda: silent.connected)
        wait_for(lambda: False, 0.5)
        assert silent.quality().bytes_in == 0  # update-mode host never asked
        silent.stop()
        got: list[CtgSample] = []
        r = BedReader("bed-01", m.url, make_decoder("corometrics-115", {"mode": "transmit_receive"}),
                      lambda b, s: got.append(s), clock=_fast_clock(4.0), time_scale=4.0)
        r.start()
        try:
            assert wait_for(lambda: len(got) >= 8, 10.0)
        finally:
            r.stop()
    finally:
        sim.stop()


def test_played_out_source_sends_penlift_and_loop_replays(tmp_path: Path) -> None:
    from fetal_monitor_station.simulator import PtyPort, SimulatedMonitor

    port = PtyPort()
    try:
        once = SimulatedMonitor("bed-01", steady(2), port)
        looped = SimulatedMonitor("bed-02", steady(2), port, loop=True)
        assert [once._next_sample().fhr1_bpm for _ in range(3)] == [140.0, 141.0, None] and once.exhausted
        assert [looped._next_sample().fhr1_bpm for _ in range(3)] == [140.0, 141.0, 140.0]
        assert not looped.exhausted
        empty = SimulatedMonitor("bed-03", [], port, loop=True)
        assert empty._next_sample().fhr1_bpm is None and empty.exhausted
    finally:
        port.close()
