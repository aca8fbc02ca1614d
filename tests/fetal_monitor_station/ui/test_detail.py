from __future__ import annotations

import pytest

from fetal_monitor_station.episodes import Episode
from fetal_monitor_station.trace import CtgSample
from fetal_monitor_station.ui.detail import DetailPresenter
from fetal_monitor_station.ui.feed import TraceMark

from .fakes import T0, FakeClock, episode


class Source:
    """One hour of trace with a 2-minute gap 30 min ago, a deceleration and baselines."""

    def __init__(self) -> None:
        self.all = [CtgSample(T0 - 3600 + i / 4, None if 1800 <= 3600 - i / 4 < 1920 else 140.0,
                              None, 80.0, 10.0, movement=i % 400 == 0, mark=i == 4 * 3550)
                    for i in range(3600 * 4)]

    def samples(self, ep: Episode, start_s: float, end_s: float) -> list[CtgSample]:
        return [s for s in self.all if start_s <= s.t_s < end_s]

    def marks(self, ep: Episode) -> list[TraceMark]:
        return [TraceMark("deceleration", T0 - 200, T0 - 140, "late"),
                TraceMark("baseline", T0 - 240, T0 - 180, value=140.0),
                TraceMark("baseline", T0 - 180, T0 - 120, value=135.0)]


def test_live_window_geometry_and_marks() -> None:
    d = DetailPresenter(episode("bed-01"), Source(), FakeClock(), width_mm=270.0, speed_cm_min=3)
    f = d.frame()
    assert f.live and f.offset_min == 0
    assert f.end_s == T0 and f.start_s == pytest.approx(T0 - 540.0)  # 27 cm at 3 cm/min = 9 min
    assert len(f.fhr1) == 1 and f.fhr1[0][0][0] == pytest.approx(0.0) and f.fhr1[0][-1][0] == pytest.approx(269.9,
                                                                                                          abs=0.1)
    assert f.fhr1[0][0][1] == pytest.approx(45.0)  # 140 bpm on 50-210 at 20 bpm/cm
    (span,) = f.spans
    assert (span.kind, span.type) == ("deceleration", "late")
    assert span.x1_mm - span.x0_mm == pytest.approx(30.0)  # 60 s at 0.5 mm/s
    assert f.baseline == [[(pytest.approx(150.0), 45.0), (pytest.approx(180.0), 45.0),
                           (pytest.approx(180.0), 42.5), (pytest.approx(210.0), 42.5)]]
    assert len(f.event_mm) == 1 and f.event_mm[0] == pytest.approx((3550 / 1 - 3060) * 0.5, abs=0.01)
    assert f.fhr2 == [] and f.mhr and f.toco


def test_drag_back_shows_the_gap_as_a_gap_and_the_banner() -> None:
    clock = FakeClock()
    d = DetailPresenter(episode("bed-01"), Source(), clock, width_mm=270.0, speed_cm_min=3)
    d.drag_mm(30.0 * 28)  # 3 cm/min: 28 minutes back
    f = d.frame()
    assert not f.live and f.offset_min == 28
    assert len(f.fhr1) == 2  # the 2-minute gap 30..32 min ago splits the trace
    gap_mm = f.fhr1[1][0][0] - f.fhr1[0][-1][0]
    assert gap_mm == pytest.approx(120 * 0.5, abs=0.2)
    d.drag_mm(1e6)  # cannot go before the episode started
    assert d.frame().start_s == pytest.approx(T0 - 3600)
    d.return_to_live()
    assert d.frame().live


def test_notes_are_placed_on_the_paper() -> None:
    d = DetailPresenter(episode("bed-01"), Source(), FakeClock(), width_mm=270.0,
                        notes=lambda ep, a, b: [(t, "体位改变") for t in (T0 - 100, T0 - 5000) if a <= t < b])
    assert d.frame().notes == [(pytest.approx(270.0 - 50.0), "体位改变")]  # 100 s before now at 0.5 mm/s


def test_speed_and_scale_switch() -> None:
    d = DetailPresenter(episode("bed-01"), Source(), FakeClock(), width_mm=270.0)
    d.set_speed(1)
    f = d.frame()
    assert f.end_s - f.start_s == pytest.approx(27 * 60)
    d.set_fhr_scale("30-240")
    assert d.frame().fhr1[0][0][1] == pytest.approx((140 - 30) / 3.0)


def test_a_discharged_episode_replays_from_its_end_and_never_goes_live() -> None:
    ep = Episode(1, "bed-01", int((T0 - 3600) * 1000), "H1", "李娜", 39, 0, int((T0 - 600) * 1000))
    d = DetailPresenter(ep, Source(), FakeClock(), width_mm=270.0, live=True)
    f = d.frame()
    assert not f.live and f.end_s == pytest.approx(T0 - 600)
