"""Indicators on a synthetic population whose answers are worked out by hand (in the comments)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from central_hub import indicators
from central_hub.datakey import DataCipher, load_or_create
from central_hub.store import Store, open_store
from tests.central_hub.feed import records
from tests.support.hub import hub_site

A, B = "110105", "440524"
DELIVERED = dt.date(2026, 5, 1)
FULL = [100, 150, 200, 250]  # visit GAs: with an early booking at 70 d, 1 + 2 + 2 checks by trimester


def woman(n: int, area: str, booked_ga: int, visits: list[int], colour: str = "green", *, delivered: dt.date | None
          = DELIVERED, delivery_ga: int = 275, live: int = 1, facility: bool = True, pp_days: int | None = 7,
          booked: dt.date | None = None) -> list[tuple[str, int, str, Any]]:
    end = delivered or dt.date(2026, 9, 1)
    booked = booked or end - dt.timedelta(days=delivery_ga - booked_ga)
    out: list[tuple[str, int, str, Any]] = [("kiosk-001", n * 100, "antenatal-booking/1", records.booking(
        random.Random(n), n, colour=colour, registered=booked, ga_days=booked_ga, area=area))]
    out += [("kiosk-001", n * 100 + k + 1, "antenatal-visit/1", records.visit(n, k, ga_days=g))
            for k, g in enumerate(visits)]
    if delivered:
        out.append(("kiosk-001", n * 100 + 99, "delivery/1", records.delivery(
            n, day=delivered, ga_days=delivery_ga, live_births=live, in_facility=facility,
            postpartum=None if pp_days is None else delivered + dt.timedelta(days=pp_days))))
    return out


def population() -> list[tuple[str, int, str, Any]]:
    rows = []
    for n in range(1, 7):  # p1-p6: early, 5 checks, facility, postpartum day 7: systematic
        rows += woman(n, A, 70, FULL)
    rows += woman(7, A, 100, [120, 150, 200, 250], "orange", pp_days=10)  # late booking
    rows += woman(8, A, 70, [100, 150], "yellow", pp_days=None)  # 3 checks, no postpartum visit
    rows += woman(9, A, 70, FULL, "red", facility=False, pp_days=40)  # home birth, postpartum too late
    rows += woman(10, A, 70, FULL, live=2, pp_days=20)  # twins: 2 live births
    rows += woman(11, A, 70, FULL, delivered=dt.date(2026, 10, 5))  # delivered after the year
    rows += woman(12, A, 70, [100], delivery_ga=180)  # ended before 28 weeks: not a 产妇
    rows += woman(13, A, 70, [], "purple", delivered=None, booked=dt.date(2026, 8, 1))  # not delivered yet
    rows += woman(21, B, 70, FULL, pp_days=5)  # q1: systematic
    rows += woman(22, B, 120, [], "orange", pp_days=None)  # q2: one check, late booking
    return rows


# area A: live births 6+1+1+1+2 = 11, women delivered 10; B: 2 and 2; all: 13 and 12
EXPECTED = {
    A: {"early_booking_rate": (9, 11), "antenatal_check_rate": (10, 11), "antenatal_5_checks_rate": (9, 11),
        "systematic_management_rate": (7, 11), "hospital_delivery_rate": (10, 11), "postpartum_visit_rate": (8, 11),
        "high_risk_rate": (2, 10), "screen_positive_rate": (4, 13), "checks_first_trimester": (9, 10),
        "checks_second_trimester": (21, 10), "checks_third_trimester": (18, 10)},
    B: {"early_booking_rate": (1, 2), "antenatal_check_rate": (2, 2), "antenatal_5_checks_rate": (1, 2),
        "systematic_management_rate": (1, 2), "hospital_delivery_rate": (2, 2), "postpartum_visit_rate": (1, 2),
        "high_risk_rate": (1, 2), "screen_positive_rate": (1, 2), "checks_first_trimester": (1, 2),
        "checks_second_trimester": (3, 2), "checks_third_trimester": (2, 2)},
}
EXPECTED["all"] = {k: (EXPECTED[A][k][0] + EXPECTED[B][k][0], EXPECTED[A][k][1] + EXPECTED[B][k][1])
                   for k in EXPECTED[A]}


def commit_population(store: Store, cipher: DataCipher) -> None:
    rows = population()
    for i in range(0, len(rows), 40):
        records.commit(store, cipher, rows[i:i + 40])


def test_every_indicator_matches_the_hand_count(store: Store) -> None:
    cipher = DataCipher.generate()
    commit_population(store, cipher)
    start, end = indicators.statistical_year(2026)
    assert (start, end) == (dt.date(2025, 10, 1), dt.date(2026, 9, 30))
    rows = indicators.compute(indicators.load(store, cipher), start, end, by_area=True)
    got = {(r.area, r.indicator): (r.numerator, r.denominator) for r in rows}
    want = {(area, k): v for area, d in EXPECTED.items() for k, v in d.items()}
    assert got == want
    by = {(r.area, r.indicator): r.value for r in rows}
    assert by[("all", "systematic_management_rate")] == 61.54  # 8 / 13
    assert by[(A, "checks_second_trimester")] == 2.1
    assert set(indicators.DEFINITIONS) == {k for _, k in want}


def test_an_empty_period_has_no_values() -> None:
    rows = indicators.compute([], dt.date(2020, 1, 1), dt.date(2020, 12, 31))
    assert rows and all(r.value is None and r.denominator == 0 for r in rows)


def test_report_cli_csv_json_and_sqlite(site: Any, tmp_path: Path) -> None:
    state = hub_site(site.path) / "hub" / "state"
    db = f"sqlite:///{state / 'hub.db'}"
    store = open_store(db)
    commit_population(store, load_or_create(state))
    store.close()

    def report(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "central_hub.cli", "report", "--site", str(hub_site(site.path)), *args],
                              capture_output=True, text=True, timeout=60)

    r = report("--year", "2026", "--by-area", "--format", "csv", "--out", str(tmp_path / "r.csv"),
               "--sqlite", str(tmp_path / "r.db"))
    assert r.returncode == 0, r.stderr
    with (tmp_path / "r.csv").open(encoding="utf-8") as f:
        rows = {(x["area"], x["indicator"]): x for x in csv.DictReader(f)}
    assert rows[(A, "early_booking_rate")]["value"] == "81.82" and rows[(A, "early_booking_rate")]["name_zh"] == "早孕建册率"
    with sqlite3.connect(tmp_path / "r.db") as conn:
        assert conn.execute("SELECT numerator, denominator FROM indicators WHERE area = ? AND indicator = ?",
                            (B, "high_risk_rate")).fetchone() == (1, 2)
    r = report("--from", "2025-10-01", "--to", "2026-09-30", "--format", "json")
    doc = json.loads(r.stdout)
    assert {(d["indicator"], d["numerator"], d["denominator"]) for d in doc} == {
        (k, *v) for k, v in EXPECTED["all"].items()}
    r = report("--year", "2026")
    assert r.returncode == 0 and "孕产妇系统管理率" in r.stdout and "61.54%" in r.stdout
    assert report("--from", "2026-01-01").returncode == 1
    assert report().returncode == 2
