"""Hand-built BedViews and a fake clock for the presenter tests."""

from __future__ import annotations

from dataclasses import dataclass

from fetal_monitor_station.episodes import Episode
from fetal_monitor_station.interfaces import AlarmChange
from fetal_monitor_station.monitor.reader import LinkQuality
from fetal_monitor_station.station import BedView
from fetal_monitor_station.trace import CtgSample
from fetal_monitor_station.ui.feed import FeedAlarm

T0 = 1_780_000_000.0


@dataclass
class FakeClock:
    now: float = T0

    def __call__(self) -> float:
        return self.now


def quality(bed_id: str, connected: bool = True, age: float | None = 0.1) -> LinkQuality:
    return LinkQuality(bed_id, f"/dev/{bed_id}", connected, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1.0, age, "")


def view(bed_id: str, *, connected: bool = True, episode: Episode | None = None, last: CtgSample | None = None,
         classification: str = "", age: float | None = 0.1) -> BedView:
    return BedView(bed_id, connected, episode, last, classification, (), quality(bed_id, connected, age))


def episode(bed_id: str, episode_id: int = 1, patient: bool = True, admitted_s: float = T0 - 3600) -> Episode:
    if not patient:
        return Episode(episode_id, bed_id, int(admitted_s * 1000))
    return Episode(episode_id, bed_id, int(admitted_s * 1000), f"H{episode_id:05d}", "王小红", 38, 2)


def change(bed_id: str, alarm_id: str, kind: str, event: str, severity: str = "medium", at_s: float = T0,
           nurse_id: str | None = None) -> FeedAlarm:
    return FeedAlarm(bed_id, 1, AlarmChange(alarm_id, kind, event, severity, f"{kind} msg", nurse_id), at_s)
