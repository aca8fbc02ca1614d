"""The county's annual maternal-care indicators (妇幼卫生年报 卫统41 family), by period and area.

Definitions (reference/maternal-child-standards.md §5b; denominators are live births, 活产数,
of deliveries at >= 28 weeks in the period, as the national definitions; the period is the
statistical year, 10-01 of the year before to 09-30, unless dates are given):

| id | 指标 | numerator | denominator |
|---|---|---|---|
| early_booking_rate | 早孕建册率 | women delivered in the period who were booked (and had their first check) before 13 weeks (GA < 91 d) | live births |
| antenatal_check_rate | 产前检查率 | women delivered with >= 1 antenatal check | live births |
| antenatal_5_checks_rate | 孕产妇健康管理率 | women delivered with >= 5 antenatal checks (booking counts as the first) | live births |
| systematic_management_rate | 孕产妇系统管理率 | women delivered with early booking, >= 5 checks, delivery in a facility and a postpartum visit within 28 d | live births |
| hospital_delivery_rate | 住院分娩率 | live births delivered in a facility licensed for midwifery | live births |
| postpartum_visit_rate | 产后访视率 | women delivered with a postpartum visit within 28 days | live births |
| high_risk_rate | 高危产妇比例 | women delivered graded orange, red or purple (专案管理) | women delivered (产妇数) |
| screen_positive_rate | 妊娠风险筛查阳性率 | pregnancies booked in the period graded other than green | pregnancies booked in the period |
| checks_first/second/third_trimester | 孕早/中/晚期检查次数 | antenatal checks at GA < 13 w / 13-27+6 w / >= 28 w of women delivered | women delivered |

Items the reference marks as recalled, not confirmed (系统管理率 wording, 高危产妇比例) follow the
wording above; change them here, in one table, when the official WS/T 598.5 text is at hand.
Record bodies are sealed at rest, so the records are opened here and counted in Python: the same
code on SQLite and PostgreSQL, and no indicator can drift between the two.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cbor2

from central_hub.config import DEFAULT_STATE_SUBDIR
from central_hub.datakey import DataCipher
from central_hub.errors import HubError
from central_hub.store.base import Store
from central_hub.store.model import record_aad

EARLY_GA_DAYS = 91  # 13 weeks
THIRD_TRIMESTER_GA_DAYS = 196  # 28 weeks: also the threshold of a delivery counted in 产妇数 / 活产数
POSTPARTUM_DAYS = 28
HIGH_RISK_COLOURS = frozenset({"orange", "red", "purple"})
ALL_AREAS = "all"
SCHEMAS = ("antenatal-booking/1", "antenatal-visit/1", "delivery/1")
# the export table (`--sqlite`, and the CSV/JSON made from it by sqlite-utils)
TABLE = "indicators"
KEY = ("indicator", "area", "start", "end")
COLUMNS: dict[str, type] = {"indicator": str, "name_zh": str, "area": str, "start": str, "end": str, "numerator": int,
                            "denominator": int, "value": float, "unit": str, "numerator_definition": str,
                            "denominator_definition": str}


@dataclass(frozen=True)
class Definition:
    id: str
    name_zh: str
    numerator: str
    denominator: str
    per: int  # 100 = percent; 1 = a plain ratio (checks per woman)


DEFINITIONS = {d.id: d for d in (
    Definition("early_booking_rate", "早孕建册率", "women booked before 13 weeks", "live births", 100),
    Definition("antenatal_check_rate", "产前检查率", "women with >= 1 antenatal check", "live births", 100),
    Definition("antenatal_5_checks_rate", "孕产妇健康管理率", "women with >= 5 antenatal checks", "live births", 100),
    Definition("systematic_management_rate", "孕产妇系统管理率",
               "early booking + >= 5 checks + facility delivery + postpartum visit <= 28 d", "live births", 100),
    Definition("hospital_delivery_rate", "住院分娩率", "live births in a facility", "live births", 100),
    Definition("postpartum_visit_rate", "产后访视率", "women with a postpartum visit <= 28 d", "live births", 100),
    Definition("high_risk_rate", "高危产妇比例", "women delivered graded orange/red/purple", "women delivered", 100),
    Definition("screen_positive_rate", "妊娠风险筛查阳性率", "pregnancies booked graded other than green",
               "pregnancies booked", 100),
    Definition("checks_first_trimester", "孕早期检查次数", "checks at GA < 13 w", "women delivered", 1),
    Definition("checks_second_trimester", "孕中期检查次数", "checks at GA 13-27+6 w", "women delivered", 1),
    Definition("checks_third_trimester", "孕晚期检查次数", "checks at GA >= 28 w", "women delivered", 1),
)}


@dataclass
class Pregnancy:
    """One pregnancy as the indicators see it, joined from its records by record id."""

    record_id: str
    area: str | None = None
    booked: dt.date | None = None
    booked_ga_days: int | None = None
    colour: str | None = None
    visit_ga_days: list[int] = field(default_factory=list)
    delivered: dt.date | None = None
    delivery_ga_days: int | None = None
    live_births: int = 0
    in_facility: bool = False
    postpartum: dt.date | None = None

    @property
    def check_ga_days(self) -> list[int]:
        return ([self.booked_ga_days] if self.booked_ga_days is not None else []) + self.visit_ga_days

    @property
    def counted_delivery(self) -> bool:
        return self.delivered is not None and (self.delivery_ga_days or 0) >= THIRD_TRIMESTER_GA_DAYS


@dataclass(frozen=True)
class Row:
    indicator: str
    area: str
    start: str
    end: str
    numerator: int
    denominator: int
    value: float | None  # None when the denominator is 0

    def as_dict(self) -> dict[str, Any]:
        d = DEFINITIONS[self.indicator]
        return {"indicator": self.indicator, "name_zh": d.name_zh, "area": self.area, "start": self.start,
                "end": self.end, "numerator": self.numerator, "denominator": self.denominator,
                "value": self.value, "unit": "%" if d.per == 100 else "per woman",
                "numerator_definition": d.numerator, "denominator_definition": d.denominator}


def statistical_year(year: int) -> tuple[dt.date, dt.date]:
    """The 年报 year: 10-01 of the year before to 09-30 of `year`, both included."""
    return dt.date(year - 1, 10, 1), dt.date(year, 9, 30)


def load(store: Store, cipher: DataCipher) -> list[Pregnancy]:
    """Open the records the indicators use and join them by pregnancy record id."""
    marks = ", ".join("?" * len(SCHEMAS))
    rows = store._read(f"SELECT device_id, msg_id, schema_id, key_id, nonce, body FROM records"
                       f" WHERE schema_id IN ({marks}) ORDER BY id", SCHEMAS)
    by_id: dict[str, Pregnancy] = {}
    for device_id, msg_id, schema_id, key_id, nonce, body in rows:
        rec = cbor2.loads(cipher.open(int(key_id), bytes(nonce), bytes(body), record_aad(device_id, int(msg_id))))
        p = by_id.setdefault(rec["record_id"], Pregnancy(rec["record_id"]))
        if schema_id == "antenatal-booking/1":
            p.area, p.colour = rec["area_code"], rec["risk_colour"]
            p.booked, p.booked_ga_days = dt.date.fromisoformat(rec["registered_date"]), rec["ga_days"]
        elif schema_id == "antenatal-visit/1":
            p.visit_ga_days.append(rec["ga_days"])
        else:
            p.delivered, p.delivery_ga_days = dt.date.fromisoformat(rec["delivery_date"]), rec["ga_days"]
            p.live_births, p.in_facility = rec["live_births"], rec["in_facility"]
            p.postpartum = dt.date.fromisoformat(rec["postpartum_visit_date"]) \
                if "postpartum_visit_date" in rec else None
    return list(by_id.values())


def compute(pregnancies: Iterable[Pregnancy], start: dt.date, end: dt.date, by_area: bool = False) -> list[Row]:
    """Every indicator for [start, end], for all areas together and, if asked, per area of residence."""
    items = list(pregnancies)
    groups: dict[str, list[Pregnancy]] = {ALL_AREAS: items}
    if by_area:
        for p in items:
            groups.setdefault(p.area or "unknown", []).append(p)
    out: list[Row] = []
    for area in sorted(groups, key=lambda a: (a != ALL_AREAS, a)):
        out.extend(_rows(groups[area], area, start, end))
    return out


def _rows(items: list[Pregnancy], area: str, start: dt.date, end: dt.date) -> list[Row]:
    delivered = [p for p in items if p.counted_delivery and start <= p.delivered <= end]  # type: ignore[operator]
    booked = [p for p in items if p.booked is not None and start <= p.booked <= end]
    live = sum(p.live_births for p in delivered)
    women = len(delivered)

    def early(p: Pregnancy) -> bool:
        return p.booked_ga_days is not None and p.booked_ga_days < EARLY_GA_DAYS

    def postpartum(p: Pregnancy) -> bool:
        return p.postpartum is not None and p.delivered is not None and \
            0 <= (p.postpartum - p.delivered).days <= POSTPARTUM_DAYS

    def count(pred: Any) -> int:
        return sum(1 for p in delivered if pred(p))

    values = {
        "early_booking_rate": (count(early), live),
        "antenatal_check_rate": (count(lambda p: len(p.check_ga_days) >= 1), live),
        "antenatal_5_checks_rate": (count(lambda p: len(p.check_ga_days) >= 5), live),
        "systematic_management_rate": (count(lambda p: early(p) and len(p.check_ga_days) >= 5 and p.in_facility
                                             and postpartum(p)), live),
        "hospital_delivery_rate": (sum(p.live_births for p in delivered if p.in_facility), live),
        "postpartum_visit_rate": (count(postpartum), live),
        "high_risk_rate": (count(lambda p: p.colour in HIGH_RISK_COLOURS), women),
        "screen_positive_rate": (sum(1 for p in booked if p.colour not in (None, "green")), len(booked)),
        "checks_first_trimester": (sum(1 for p in delivered for g in p.check_ga_days if g < EARLY_GA_DAYS), women),
        "checks_second_trimester": (sum(1 for p in delivered for g in p.check_ga_days
                                        if EARLY_GA_DAYS <= g < THIRD_TRIMESTER_GA_DAYS), women),
        "checks_third_trimester": (sum(1 for p in delivered for g in p.check_ga_days
                                       if g >= THIRD_TRIMESTER_GA_DAYS), women),
    }
    return [Row(k, area, start.isoformat(), end.isoformat(), num, den,
                None if den == 0 else round(num * DEFINITIONS[k].per / den, 2)) for k, (num, den) in values.items()]


# -- `mch-hub report` -----------------------------------------------------------------------
def add_parser(sub: Any) -> None:
    sp = sub.add_parser("report", help="annual maternal-care indicators (CSV, JSON, table; SQLite via sqlite-utils)")
    sp.add_argument("--site", type=Path, required=True, help="site directory made by mch-provision")
    sp.add_argument("--db", help="sqlite:///<path> (default: <state-dir>/hub.db) or postgresql://...")
    sp.add_argument("--state-dir", type=Path, help="hub state: data key (default <site>/hub/state)")
    when = sp.add_mutually_exclusive_group(required=True)
    when.add_argument("--year", type=int, help="statistical year Y: Y-1-10-01 .. Y-09-30")
    when.add_argument("--from", dest="start", type=dt.date.fromisoformat, help="first day (YYYY-MM-DD), with --to")
    sp.add_argument("--to", dest="end", type=dt.date.fromisoformat, help="last day (YYYY-MM-DD)")
    sp.add_argument("--by-area", action="store_true", help="also one row per area of residence (GB/T 2260)")
    sp.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sp.add_argument("--out", type=Path, help="write to this file instead of stdout")
    sp.add_argument("--sqlite", type=Path, help="also write the rows to table `indicators` of this SQLite file")


def main(args: Any, db_url: str) -> int:
    from central_hub import exports, report
    from central_hub.datakey import load as load_key
    from central_hub.store import open_store

    if args.year is None and args.end is None:
        raise HubError("--from needs --to")
    start, end = statistical_year(args.year) if args.year is not None else (args.start, args.end)
    state = Path(args.state_dir) if args.state_dir else Path(args.site) / DEFAULT_STATE_SUBDIR
    cipher = load_key(state / "data.key")
    store = open_store(db_url)
    try:
        rows = [r.as_dict() for r in compute(load(store, cipher), start, end, args.by_area)]
    finally:
        store.close()
    if args.format == "table":
        # the Chinese name last: the table pads by characters, and a CJK character is two columns wide
        text: str | None = report.table(["indicator", "area", "numerator", "denominator", "value", "指标"],
                                        [[r["indicator"], r["area"], r["numerator"], r["denominator"],
                                          "-" if r["value"] is None else f"{r['value']}{'%' if r['unit'] == '%' else ''}",
                                          r["name_zh"]] for r in rows]) + "\n"
        if args.out:
            args.out.write_text(text, encoding="utf-8")
            text = None
    else:  # CSV and JSON by sqlite-utils (central_hub.exports), not by hand
        text = exports.write(rows, TABLE, KEY, args.format, args.out, COLUMNS)
    if text is not None:
        sys.stdout.write(text)
    if args.sqlite:
        exports.write(rows, TABLE, KEY, "sqlite", args.sqlite, COLUMNS)
    return 0
