from __future__ import annotations

import time

import pytest

from fetal_monitor_station.trace import CtgSample
from fetal_monitor_station.ui.overview import (
    STATE_EMPTY,
    STATE_MONITORING,
    STATE_OFFLINE,
    STATE_UNIDENTIFIED,
    OverviewPresenter,
    Rect,
    choose_layout,
    mask_name,
    place,
)

from .fakes import T0, FakeClock, episode, view


def beds(n: int) -> list:
    return [view(f"bed-{i + 1:02d}", episode=episode(f"bed-{i + 1:02d}", i + 1),
                 last=CtgSample(T0 - 0.25, 140.0 + i, None, 80.0, 20.0)) for i in range(n)]


@pytest.mark.parametrize(("n", "layout"), [(1, (1, 2)), (2, (1, 2)), (3, (2, 2)), (4, (2, 2)), (5, (3, 2)),
                                           (7, (3, 3)), (10, (4, 3)), (13, (4, 4)), (32, (4, 4))])
def test_auto_layout_is_the_smallest_grid_that_fits(n: int, layout: tuple[int, int]) -> None:
    assert choose_layout(n) == layout


def test_fixed_layouts_and_bad_layout() -> None:
    assert choose_layout(9, "4x2") == (4, 2)
    with pytest.raises(ValueError, match="layout"):
        choose_layout(3, "5x5")


def test_paging_32_beds_over_two_pages_of_16_in_order() -> None:
    p = OverviewPresenter(lambda b: 0, FakeClock(), auto_page_s=None)
    views = beds(32)
    first = p.page(views)
    assert (first.rows, first.cols, first.count) == (4, 4, 2)
    assert [t.bed_id for t in first.tiles] == [f"bed-{i:02d}" for i in range(1, 17)]
    p.next_page()
    second = p.page(views)
    assert second.index == 1
    assert [t.bed_id for t in second.tiles] == [f"bed-{i:02d}" for i in range(17, 33)]
    p.next_page()
    assert p.page(views).index == 0  # wraps


def test_tiles_cover_the_grid_without_overlap() -> None:
    rects = [r for r, _ in place(4, 4, 13, True)]
    assert rects[0] == Rect(0.0, 0.5, 0.5, 0.5)
    area = sum(r.w * r.h for r in rects)
    assert area == pytest.approx(1.0)
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            overlap_w = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
            overlap_h = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
            assert overlap_w <= 1e-9 or overlap_h <= 1e-9


def test_bed_in_alarm_moves_to_the_front_enlarged_and_pushes_others_on() -> None:
    prio = {"bed-07": 2, "bed-12": 3}
    p = OverviewPresenter(lambda b: prio.get(b, 0), FakeClock())
    page = p.page(beds(16))
    ids = [t.bed_id for t in page.tiles]
    assert ids[:2] == ["bed-12", "bed-07"]  # high before medium
    assert page.tiles[0].enlarged and not page.tiles[1].enlarged
    assert page.tiles[0].alarm_priority == 3
    assert len(page.tiles) == 13 and page.count == 2  # 2x2 tile takes 4 cells: 3 beds to page 2
    p.next_page()
    assert len(p.page(beds(16)).tiles) == 3


def test_tile_states_values_and_masking() -> None:
    clock = FakeClock()
    views = [view("bed-01", episode=episode("bed-01"), last=CtgSample(T0 - 1, 141.4, 150.0, 82.0, 35.0),
                  classification="FIGO suspicious / NICHD II"),
             view("bed-02"),
             view("bed-03", episode=episode("bed-03", 3, patient=False), last=CtgSample(T0 - 0.5, 150.0)),
             view("bed-04", connected=False, episode=episode("bed-04", 4), last=CtgSample(T0 - 300, 140.0),
                  age=300.0)]
    p = OverviewPresenter(lambda b: 0, clock)
    tiles = {t.bed_id: t for t in p.page(views).tiles}
    t1 = tiles["bed-01"]
    assert (t1.state, t1.fhr1, t1.fhr2, t1.mhr, t1.toco) == (STATE_MONITORING, 141, 150, 82, 35)
    assert t1.patient == "王*红 H00001" and t1.ga == "38+2"
    assert t1.class_colour[0] > 0.9 and t1.class_colour[2] < 0.2  # amber for suspicious
    assert tiles["bed-02"].state == STATE_EMPTY and tiles["bed-02"].fhr1 is None
    assert tiles["bed-03"].state == STATE_UNIDENTIFIED and tiles["bed-03"].patient == ""
    t4 = tiles["bed-04"]
    assert t4.state == STATE_OFFLINE and t4.fhr1 is None
    assert t4.offline_since == time.strftime("%H:%M", time.localtime(T0 - 300))
    clock.now += 600  # still offline later: the time it went away does not move
    assert {t.bed_id: t for t in p.page(views).tiles}["bed-04"].offline_since == t4.offline_since


def test_stale_values_are_not_shown_as_current() -> None:
    v = view("bed-01", episode=episode("bed-01"), last=CtgSample(T0 - 30, 140.0))
    tile = OverviewPresenter(lambda b: 0, FakeClock()).page([v]).tiles[0]
    assert tile.fhr1 is None and tile.state == STATE_MONITORING


def test_mask_name() -> None:
    assert [mask_name(n) for n in ("李", "李娜", "王小红", "欧阳晓明")] == ["李", "李*", "王*红", "欧**明"]


def test_pages_turn_by_themselves_and_come_back_for_an_alarm() -> None:
    clock = FakeClock()
    prio: dict[str, int] = {}
    p = OverviewPresenter(lambda b: prio.get(b, 0), clock, auto_page_s=15.0)
    views = beds(32)
    assert p.page(views).index == 0
    clock.now += 14
    assert p.page(views).index == 0
    clock.now += 1
    assert p.page(views).index == 1
    clock.now += 15
    assert p.page(views).index == 0  # wrapped
    clock.now += 15
    assert p.page(views).index == 1
    prio["bed-30"] = 3
    clock.now += 15
    page = p.page(views)
    assert page.index == 0 and page.tiles[0].bed_id == "bed-30"
    clock.now += 60
    assert p.page(views).index == 0  # no turning away while a bed is in alarm
