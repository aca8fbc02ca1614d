from __future__ import annotations

import pytest

from fetal_monitor_station.report.paper import FHR_30_240, paper, polylines


def test_paper_speeds_map_one_minute_to_1_2_3_cm() -> None:
    for speed in (1, 2, 3):
        p = paper(speed)
        assert p.x_mm(60.0, 0.0) == pytest.approx(10.0 * speed)
        assert p.seconds_for(270.0) == pytest.approx(270.0 / (10.0 * speed) * 60.0)
    with pytest.raises(ValueError, match="paper speed"):
        paper(4)


def test_fhr_scales_and_clipping() -> None:
    p = paper(3, "50-210")
    assert p.fhr.height_mm == pytest.approx(80.0)  # 160 bpm at 20 bpm/cm
    assert p.fhr_y_mm(50) == 0 and p.fhr_y_mm(210) == pytest.approx(80.0) and p.fhr_y_mm(130) == pytest.approx(40)
    assert p.fhr_y_mm(250) == pytest.approx(80.0) and p.fhr_y_mm(20) == 0  # clipped to the strip
    q = paper(1, "30-240")
    assert q.fhr == FHR_30_240 and q.fhr.height_mm == pytest.approx(70.0)
    assert q.toco_y_mm(100) == pytest.approx(40.0) and q.toco_y_mm(50) == pytest.approx(20.0)
    with pytest.raises(ValueError, match="FHR scale"):
        paper(3, "60-200")


def test_grid_lines_are_wall_clock_aligned_with_heavy_minutes() -> None:
    p = paper(3)
    lines = p.time_lines(1005.0, 1125.0)  # 10 s minor lines from 1010 to 1120
    assert lines[0][0] == pytest.approx(p.x_mm(1010.0, 1005.0))
    assert len(lines) == 12
    assert [round(x, 3) for x, major in lines if major] == [round(p.x_mm(1020.0, 1005.0), 3),
                                                            round(p.x_mm(1080.0, 1005.0), 3)]
    assert paper(1).minor_time_s == 30.0
    heavy = [b for _, major, b in p.fhr_lines() if major]
    assert {110, 160}.issubset(heavy) and 50 in heavy and 200 in heavy


def test_gaps_stay_gaps() -> None:
    times = [i / 4 for i in range(10)] + [10.0, 10.25]
    values = [140, 141, None, None, 142, 143, 144, None, 150, 151, 152, 153]
    runs = polylines(times, values)
    assert runs == [[(0.0, 140), (0.25, 141)], [(1.0, 142), (1.25, 143), (1.5, 144)], [(2.0, 150), (2.25, 151)],
                    [(10.0, 152), (10.25, 153)]]  # the time jump from 2.25 to 10 s is a gap too
