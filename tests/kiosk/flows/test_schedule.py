"""The kiosk prints the national antenatal schedule on her A4 report from its own table, while the hub
recommends and books visits from its data file: the two must name the same visits and the same weeks,
or the report would tell her one window and the booking another."""

from __future__ import annotations

import datetime as dt

from central_hub.services.schedule import antenatal_visits
from kiosk.flows.schedule import BASIC_SCHEDULE, schedule_rows


def test_the_kiosks_schedule_is_the_hubs() -> None:
    hub = [(v["zh"], v["from_week"], v["to_week"]) for v in antenatal_visits()]
    kiosk = [(v.zh, v.from_week, v.to_week) for v in BASIC_SCHEDULE]
    assert kiosk == hub


def test_rows_are_dated_from_her_lmp_with_inclusive_week_ends() -> None:
    lmp = dt.date(2026, 6, 1)
    rows = schedule_rows(lmp, today=dt.date(2026, 9, 28))  # 17 weeks + 0 days
    assert rows[0] == ("建册及第1次产前检查（孕0–12周）", "2026-06-01 – 2026-08-30 已过")
    assert rows[1] == ("第2次产前检查（孕16–20周）", "2026-09-21 – 2026-10-25 当前")
    assert rows[4][1] == "2027-02-15 – 2027-03-14"
