"""The county indicators (central_hub.indicators) by period, as the dashboard's charts show them.

Pure: pregnancies in, one chart per indicator out (bars per quarter or month of the statistical
year, and the whole year last), for all areas or one area of residence. The numbers are the ones
`mch-hub report` prints for the same dates: this module only cuts the year and draws.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from central_hub import indicators
from central_hub.indicators import ALL_AREAS, DEFINITIONS, Pregnancy, Row
from central_hub.web.charts import Bar, bar_chart

SPLITS = ("quarter", "month")
MONTHS_PER = {"quarter": 3, "month": 1}


@dataclass(frozen=True)
class Period:
    label: str
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class IndicatorChart:
    indicator: str
    unit: str
    svg: str
    rows: tuple[tuple[Period, Row], ...]  # the numbers under the chart, period by period


def statistical_year_of(day: dt.date) -> int:
    """The 年报 year a day falls in (10-01 starts the next year's)."""
    return day.year + 1 if day.month >= 10 else day.year


def periods(year: int, split: str, whole_label: str) -> list[Period]:
    """The year's quarters (or months) from 10-01 of the year before, then the whole year."""
    start, end = indicators.statistical_year(year)
    step = MONTHS_PER[split]
    out: list[Period] = []
    first = start
    while first <= end:
        month_index = first.month - 1 + step
        after = dt.date(first.year + month_index // 12, month_index % 12 + 1, 1)
        last = after - dt.timedelta(days=1)
        label = f"{first:%Y-%m}" if step == 1 else f"{first:%Y-%m}~{last:%m}"
        out.append(Period(label, first, last))
        first = after
    out.append(Period(whole_label, start, end))
    return out


def areas(pregnancies: Iterable[Pregnancy]) -> list[str]:
    return sorted({p.area for p in pregnancies if p.area})


def charts(pregnancies: list[Pregnancy], year: int, split: str, area: str, name: Callable[[str], str],
           whole_label: str) -> list[IndicatorChart]:
    """One chart per indicator; `name` gives an indicator's title in the page's language."""
    cut = periods(year, split, whole_label)
    by_period: list[dict[str, Row]] = []
    for period in cut:
        rows = indicators.compute(pregnancies, period.start, period.end, by_area=area != ALL_AREAS)
        by_period.append({r.indicator: r for r in rows if r.area == area})
    out: list[IndicatorChart] = []
    for key, definition in DEFINITIONS.items():
        percent = definition.per == 100
        unit = "%" if percent else ""
        pairs = tuple((period, found[key]) for period, found in zip(cut, by_period, strict=True))
        bars = [Bar(period.label, row.value, f"{row.numerator}/{row.denominator}") for period, row in pairs]
        svg = bar_chart(name(key), bars, unit, 100.0 if percent else None, chart_id=f"chart-{key}")
        out.append(IndicatorChart(key, unit, svg, pairs))
    return out
