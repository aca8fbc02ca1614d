"""The indicator charts page over HTTP: bars per quarter of the statistical year and the whole year,
checked against the hand-counted population of tests/central_hub/test_indicators.py."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from central_hub.audit import AuditLog
from central_hub.web.charts import Bar, bar_chart
from central_hub.web.services import Dashboard
from tests.central_hub.test_indicators import B, commit_population
from tests.central_hub.web.conftest import Feeder, login

QUARTERS = ["2025-10~12", "2026-01~03", "2026-04~06", "2026-07~09"]


def bars(html: str, indicator: str) -> list[tuple[str, str]]:
    svg = html.split(f'id="chart-{indicator}"', 1)[1].split("</svg>", 1)[0]
    return re.findall(r'<g class="bar" data-label="([^"]*)" data-value="([^"]*)"', svg)


def test_charts_by_quarter_match_the_hand_count(client: TestClient, dashboard: Dashboard, feeder: Feeder) -> None:
    commit_population(dashboard.store, feeder.rig.cipher)
    login(client, "olga")  # an auditor may look
    page = client.get("/indicators?year=2026&split=quarter")
    assert page.status_code == 200 and "早孕建册率" in page.text
    # every delivery counted in the year is on 2026-05-01: 10 of 13 live births booked early
    assert bars(page.text, "early_booking_rate") == [(QUARTERS[0], ""), (QUARTERS[1], ""), (QUARTERS[2], "76.9"),
                                                     (QUARTERS[3], ""), ("全年", "76.9")]
    # bookings: 12 in 2025-10~12 (4 not green), 2 in 2026-01~03 (green), 1 in 2026-07~09 (purple)
    assert bars(page.text, "screen_positive_rate") == [(QUARTERS[0], "33.3"), (QUARTERS[1], "0"), (QUARTERS[2], ""),
                                                       (QUARTERS[3], "100"), ("全年", "33.3")]
    assert ">4/12<" in page.text and ">5/15<" in page.text
    assert bars(page.text, "checks_second_trimester")[-1] == ("全年", "2")  # 24 checks / 12 women

    area_b = client.get(f"/indicators?year=2026&split=month&area={B}")
    assert len(bars(area_b.text, "early_booking_rate")) == 13  # twelve months and the year
    assert bars(area_b.text, "early_booking_rate")[-1] == ("全年", "50")  # 1 of 2
    english = client.get("/lang/en?back=/indicators", follow_redirects=True)
    assert "Early booking rate" in english.text


def test_no_charts_without_a_session_or_with_no_data_key(client: TestClient, dashboard: Dashboard) -> None:
    assert client.get("/indicators").status_code == 303
    login(client, "alice")
    page = client.get("/indicators?year=2026")  # no feeder: no key file in this site's state directory
    assert page.status_code == 200 and 'id="ind-problem"' in page.text and "data key" in page.text


def test_chart_text_is_escaped_and_an_empty_slot_is_no_bar() -> None:
    svg = bar_chart("<script>", [Bar("a&b", None), Bar('"q"', 12.5, "1/8")], "%", 100.0, chart_id="c")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "a&amp;b" in svg and "&quot;q&quot;" in svg
    assert svg.count("<rect") == 1 and 'data-value="12.5"' in svg


def test_indicator_export_download_is_made_by_sqlite_utils_and_audited(client: TestClient, dashboard: Dashboard,
                                                                       feeder: Feeder) -> None:
    commit_population(dashboard.store, feeder.rig.cipher)
    login(client, "olga")
    got = client.get("/indicators?year=2026&format=csv")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert 'filename="indicators-2026.csv"' in got.headers["content-disposition"]
    lines = got.text.splitlines()
    assert lines[0].startswith("indicator,name_zh,area,start,end,numerator,denominator,value")
    assert f"early_booking_rate,早孕建册率,{B},2025-10-01,2026-09-30,1,2,50.0,%" in got.text  # hand count: 1 of 2
    doc = client.get("/indicators?year=2026&format=json").json()
    assert {(d["area"], d["indicator"], d["numerator"], d["denominator"]) for d in doc} >= {
        ("all", "screen_positive_rate", 5, 15), (B, "high_risk_rate", 1, 2)}
    assert [e.action for e in AuditLog(dashboard.store).entries(2)] == ["indicators-export"] * 2
