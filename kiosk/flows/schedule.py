"""The national antenatal schedule (基本公共卫生服务规范 第三版: at least five visits), dated from
her LMP for the A4 report. Booking itself uses the visit the hub recommends."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class VisitWindow:
    number: int
    zh: str
    en: str
    from_week: int
    to_week: int      # inclusive: the window ends on the last day of this week

    def dates(self, lmp: dt.date) -> tuple[dt.date, dt.date]:
        return lmp + dt.timedelta(weeks=self.from_week), lmp + dt.timedelta(weeks=self.to_week + 1, days=-1)


BASIC_SCHEDULE: tuple[VisitWindow, ...] = (
    VisitWindow(1, "建册及第1次产前检查", "booking visit and 1st check", 0, 12),
    VisitWindow(2, "第2次产前检查", "2nd check", 16, 20),
    VisitWindow(3, "第3次产前检查", "3rd check", 21, 24),
    VisitWindow(4, "第4次产前检查", "4th check", 28, 36),
    VisitWindow(5, "第5次产前检查", "5th check", 37, 40),
)


def schedule_rows(lmp: dt.date, today: dt.date, lang: str = "zh") -> list[tuple[str, str]]:
    """(visit, date range + due/past marker) for each basic visit."""
    rows = []
    for visit in BASIC_SCHEDULE:
        start, end = visit.dates(lmp)
        mark = ("已过" if lang == "zh" else "past") if end < today else (
            ("当前" if lang == "zh" else "now") if start <= today else "")
        label = visit.zh if lang == "zh" else visit.en
        rows.append((f"{label}（孕{visit.from_week}–{visit.to_week}周）" if lang == "zh"
                     else f"{label} (weeks {visit.from_week}-{visit.to_week})",
                     f"{start.isoformat()} – {end.isoformat()} {mark}".rstrip()))
    return rows
