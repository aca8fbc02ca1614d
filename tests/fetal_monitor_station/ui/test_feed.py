"""The station's listener hook and the UI feed: samples, analysis marks in UNIX time, alarm
changes; a failing listener is counted and never stops the pipeline."""

from __future__ import annotations

from pathlib import Path

from fetal_monitor_station.analysis.events import AnalysisEvent, Episode
from fetal_monitor_station.archive.store import Archive
from fetal_monitor_station.config import BedConfig
from fetal_monitor_station.episodes import Patient
from fetal_monitor_station.interfaces import AlarmChange
from fetal_monitor_station.publisher import Publisher
from fetal_monitor_station.station import Station
from fetal_monitor_station.trace import CtgSample
from fetal_monitor_station.ui.feed import StationFeed

from ..helpers import FakeLink
from .fakes import T0, FakeClock


def test_feed_converts_marks_to_unix_time_and_hands_alarms_once() -> None:
    clock = FakeClock()
    feed = StationFeed(lambda ep: T0 - 600 if ep == 7 else None, clock)
    feed.listener("bed-01", 7, CtgSample(T0, 140.0))
    decel = Episode("deceleration", 100.0, 160.0, 130.0, -30.0, type="late")
    feed.listener("bed-01", 7, AnalysisEvent("deceleration", 170.0, 100.0, 160.0, 240, episode=decel))
    feed.listener("bed-01", 7, AnalysisEvent("minute", 240.0, 120.0, 180.0, 240, values={"baseline_bpm": 135.0}))
    feed.listener("bed-01", 99, AnalysisEvent("deceleration", 1.0, 0.0, 1.0, 4, episode=decel))  # unknown episode
    feed.listener("bed-01", 7, AlarmChange("a-1", "bradycardia", "raised", "medium"))
    (d, b) = feed.marks("bed-01", 7)
    assert (d.kind, d.start_s, d.end_s, d.type) == ("deceleration", T0 - 500, T0 - 440, "late")
    assert (b.kind, b.start_s, b.value) == ("baseline", T0 - 480, 135.0)
    (a,) = feed.take_alarms()
    assert a.change.alarm_id == "a-1" and a.at_s == T0 and feed.take_alarms() == []
    feed.listener("bed-01", 8, CtgSample(T0 + 1, 141.0))  # a new episode on the bed starts a fresh trace
    assert [s.t_s for s in feed.samples("bed-01")] == [T0 + 1] and feed.marks("bed-01", 7) == []


def test_a_failing_listener_is_counted_and_acquisition_goes_on(tmp_path: Path) -> None:
    link = FakeLink()
    station = Station([BedConfig("bed-01", str(tmp_path / "tty"))], Archive(tmp_path / "a.sqlite3"), Publisher(link),
                      clock=lambda: T0)
    station.admit("bed-01", Patient("H1", "李娜", 39))
    seen: list[float] = []

    def broken(bed_id: str, episode_id: int, item: object) -> None:
        raise RuntimeError("view bug")

    station.listeners += [broken, lambda b, e, item: seen.append(item.t_s)]
    for i in range(4):
        station.process("bed-01", CtgSample(T0 + i / 4, 140.0))
    station.archive.flush()
    assert station.stats.listener_errors == 4 and seen == [T0, T0 + 0.25, T0 + 0.5, T0 + 0.75]
    assert station.archive.samples_committed == 4
