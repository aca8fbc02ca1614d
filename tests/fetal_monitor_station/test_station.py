from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from fetal_monitor_station.adapters import make_hooks
from fetal_monitor_station.archive import Archive, ArchiveReader
from fetal_monitor_station.config import BedConfig
from fetal_monitor_station.episodes import Episode, Patient
from fetal_monitor_station.errors import EpisodeError
from fetal_monitor_station.publisher import Publisher
from fetal_monitor_station.runtime import scaled_clock
from fetal_monitor_station.simulator import Simulator
from fetal_monitor_station.sources.synthetic import Span, SyntheticSpec, generate
from fetal_monitor_station.station import AlarmChange, Analyzer, Station
from fetal_monitor_station.trace import CtgSample
from fetal_monitor_station.view import render
from tests.fetal_monitor_station.helpers import FakeLink, steady, wait_for

T0 = 1_800_000_000.0
PATIENT = Patient("P0100", "Test Patient C", 39)


class CountingAnalyzer:
    def __init__(self) -> None:
        self.samples: list[CtgSample] = []

    def push(self, sample: CtgSample) -> list[Any]:
        self.samples.append(sample)
        return []


class LowFhrPolicy:
    """Raises 'low' on FHR < 100 and clears it when FHR recovers."""

    def __init__(self) -> None:
        self.active: set[str] = set()

    def update(self, bed_id: str, episode: Episode, sample: CtgSample, events: Sequence[Any],
               analyzer: Analyzer | None) -> list[AlarmChange]:
        low = sample.fhr1_bpm is not None and sample.fhr1_bpm < 100
        if low and bed_id not in self.active:
            self.active.add(bed_id)
            return [AlarmChange(f"{bed_id}-low", "low", "raised", "medium", "FHR < 100")]
        if not low and sample.fhr1_bpm is not None and bed_id in self.active:
            self.active.discard(bed_id)
            return [AlarmChange(f"{bed_id}-low", "low", "cleared")]
        return []

    def acknowledge(self, bed_id: str, alarm_id: str, nurse_id: str, at_s: float) -> list[AlarmChange]:
        return [AlarmChange(alarm_id, "low", "acknowledged", nurse_id=nurse_id)]

    def reset(self, bed_id: str) -> list[AlarmChange]:
        return []

    def tick(self) -> list[tuple[str, AlarmChange]]:
        return []

    def connection(self, bed_id: str, connected: bool) -> list[AlarmChange]:
        return []


def _station(tmp_path: Path, link: FakeLink, **kw: Any) -> Station:
    beds = [BedConfig("bed-01", str(tmp_path / "bed-01")), BedConfig("bed-02", str(tmp_path / "bed-02"))]
    return Station(beds, Archive(tmp_path / "archive.sqlite3"), Publisher(link), clock=lambda: T0 + 3600, **kw)


def test_pipeline_episodes_archive_publishing_and_alarms(tmp_path: Path) -> None:
    link = FakeLink()
    analyzers: list[CountingAnalyzer] = []

    def factory(bed_id: str, ep: Episode) -> Analyzer:
        analyzers.append(CountingAnalyzer())
        return analyzers[-1]

    st = _station(tmp_path, link, analyzer_factory=factory, alarm_policy=LowFhrPolicy())
    st.process("bed-01", CtgSample(T0 - 1))  # penlift, nobody admitted: not archived
    samples = steady(80, t0_s=T0)
    samples[40:44] = [CtgSample(s.t_s, 90.0) for s in samples[40:44]]
    for s in samples[:42]:
        st.process("bed-01", s)
    st.acknowledge("bed-01", "bed-01-low", "nurse-7")  # while the alarm is active
    assert [v.alarms for v in st.views() if v.bed_id == "bed-01"] == [("low (ack)",)]
    for s in samples[42:60]:
        st.process("bed-01", s)
    for s in samples[64:]:  # a one-second gap
        st.process("bed-01", s)
    ep = st.book.current("bed-01")
    assert ep is not None and not ep.identified
    assert [b["event"] for b in link.of("episode/1")] == ["opened"]
    admitted = st.admit("bed-01", PATIENT)
    assert admitted.episode_id == ep.episode_id and admitted.patient_id == "P0100"
    st.acknowledge("bed-01", "bed-01-low", "nurse-7")  # already cleared: nothing published
    done = st.discharge("bed-01")
    assert done.discharged_ms is not None
    assert [b["event"] for b in link.of("episode/1")] == ["opened", "admitted", "discharged"]
    # archive: every sample, gap respected
    st.archive.flush()
    got = ArchiveReader(st.archive.path).history(ep.episode_id, T0 - 60, T0 + 60)
    assert [s.t_s for s in got] == [s.t_s for s in samples[:60] + samples[64:]]
    # analysis saw consecutive samples relative to the episode start, the gap filled
    fed = analyzers[0].samples
    assert len(fed) == 80 and fed[0].t_s == T0 - ep.admitted_s and all(s.fhr1_bpm is None for s in fed[60:64])
    # publishing: CTG batches carry every sample; alarms raised, acked, cleared
    ctg = link.of("ctg/1")
    assert sum(len(b["fhr1"]) for b in ctg) == 76
    assert [(a["event"], a.get("nurse_id")) for a in link.of("alarm/1")] == \
        [("raised", None), ("acknowledged", "nurse-7"), ("cleared", None)]
    assert st.stats.analysis_errors == 0 and st.overflow() == 0
    with pytest.raises(EpisodeError, match="no bed"):
        st.admit("bed-99", PATIENT)
    st.archive.close()


class Exploding:
    def push(self, sample: CtgSample) -> list[Any]:
        raise ZeroDivisionError("analysis bug")


def test_a_failing_analyzer_never_stops_archiving(tmp_path: Path) -> None:
    link = FakeLink()
    st = _station(tmp_path, link, analyzer_factory=lambda b, e: Exploding())
    for s in steady(40, t0_s=T0):
        st.process("bed-02", s)
    st.tick()
    assert st.stats.analysis_errors == 40
    assert ArchiveReader(st.archive.path).sample_count() == 40
    st.archive.close()


def test_real_analysis_and_alarm_manager_raise_ack_and_clear_on_discharge(tmp_path: Path) -> None:
    link = FakeLink()
    factory, classification_of, policy = make_hooks({"bradycardia_s": 120.0})
    st = _station(tmp_path, link, analyzer_factory=factory, classification_of=classification_of,
                  alarm_policy=policy)
    st.admit("bed-01", PATIENT)
    trace, _ = generate(SyntheticSpec(duration_s=1500, seed=4, bradycardia=(Span(700.0, 1400.0, 95.0),)))

    def brady_raised() -> bool:
        return any(a["kind"] == "bradycardia" and a["event"] == "raised" for a in link.of("alarm/1"))

    for s in trace.samples():
        st.process("bed-01", CtgSample(T0 + 3600 + s.t_s, s.fhr1_bpm, s.fhr2_bpm, s.mhr_bpm, s.toco))
        if brady_raised():
            break
    assert brady_raised() and 700 + 120 <= s.t_s < 1400
    assert link.of("classification/1"), "the analysis classified the trace at least once"
    text = render(st.views())
    assert "bed-01" in text and "P0100" in text and "bradycardia" in text
    brady = next(a["alarm_id"] for a in link.of("alarm/1") if a["kind"] == "bradycardia")
    st.acknowledge("bed-01", brady, "nurse-1")
    last = link.of("alarm/1")[-1]
    assert (last["alarm_id"], last["event"], last["nurse_id"]) == (brady, "acknowledged", "nurse-1")
    with pytest.raises(EpisodeError, match="no active alarm"):
        st.acknowledge("bed-01", "no-such-alarm", "nurse-1")
    st.discharge("bed-01")
    published = link.of("alarm/1")
    still_open = {a["alarm_id"] for a in published} - {a["alarm_id"] for a in published if a["event"] == "cleared"}
    assert still_open == set(), "discharge clears every alarm of the episode"
    st.archive.close()


@pytest.mark.integration
def test_station_reads_simulated_monitors_on_ptys(tmp_path: Path) -> None:
    link = FakeLink()
    sim = Simulator(speed=4.0)
    for bed in ("bed-01", "bed-02"):
        sim.add(bed, steady(100_000, t0_s=0), tmp_path / bed)
    beds = [BedConfig(b, str(tmp_path / b)) for b in ("bed-01", "bed-02")]
    st = Station(beds, Archive(tmp_path / "archive.sqlite3"), Publisher(link), clock=scaled_clock(4.0),
                 time_scale=4.0)
    sim.start()
    st.start()
    try:
        assert wait_for(lambda: all(len(b["fhr1"]) == 40 for b in link.of("ctg/1")) and len(link.of("ctg/1")) >= 4,
                        15.0)
        views = {v.bed_id: v for v in st.views()}
        assert views["bed-01"].connected and views["bed-01"].last is not None
    finally:
        st.stop()
        sim.stop()
    reader = ArchiveReader(st.archive.path)
    assert reader.sample_count() == st.archive.samples_appended > 0
    st.archive.close()


def test_queue_overflow_is_counted_per_bed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import queue

    st = _station(tmp_path, FakeLink())
    monkeypatch.setattr(st, "_queue", queue.Queue(8))
    for s in steady(20, t0_s=T0):
        st._put("bed-02", s)
    assert st.overflow() == 12 and st._state["bed-02"].overflow == 12
    st._drain()
    assert st.stats.samples == 8
    st.archive.close()
