"""Release from quarantine, user management, indicator charts and device faults in Debian's headless
Chromium against a real `mch-hub web` process, over a database fed by the real handler. Screenshots in
build/screenshots/dashboard/ (looked at), each checked for missing-glyph boxes."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from central_hub.config import DEFAULT_STATE_SUBDIR
from central_hub.store import Store, open_store
from central_hub.users import Users
from mch_link import schemas
from mch_link.envelope import Record
from mch_link.sitefiles import hub_view
from mch_link.topics import Kind
from provisioning.site import Site
from tests.central_hub.feed import records as fed
from tests.central_hub.test_indicators import commit_population
from tests.central_hub.web.browser import WebProcess, chromium, missing_glyphs, shot, web_process
from tests.central_hub.web.conftest import FAST_ARGON2, PASSWORD, USERS, Feeder
from tests.central_hub.web.test_faults_web import KIOSK_FAULTS, STATION_FAULTS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BOOKING = "antenatal-booking/1"
WAIT_MS = 15_000


@pytest.fixture
def served(dash_site: Site, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """`mch-hub web` on the hub's view of the site, over a SQLite hub database fed by the real handler."""
    db_url = f"sqlite:///{tmp_path / 'hub.db'}"
    store = open_store(db_url)
    feeder = Feeder(store, dash_site.path)
    users = Users(store, hasher=FAST_ARGON2)
    for name, role in USERS.items():
        users.create(name, role, PASSWORD)
    web = web_process(hub_view(dash_site.path, "hub"), db_url, tmp_path / "web.log", "--state-dir",
                      str(dash_site.path / DEFAULT_STATE_SUBDIR))
    try:
        yield {"web": web, "store": store, "feeder": feeder, "users": users}
    finally:
        web.stop()
        store.close()


def hold(feeder: Feeder, monkeypatch: pytest.MonkeyPatch, msg_id: int, body: dict[str, Any], unknown: bool) -> None:
    real = schemas.known
    with monkeypatch.context() as m:
        if unknown:  # the hub did not know the schema yet when the kiosk sent it
            m.setattr(schemas, "known", lambda s: s != BOOKING and real(s))
        dev = feeder.devices["kiosk-001"]
        feeder.rig.one(*dev.seal([Record(msg_id, body, int(time.time() * 1000))], Kind.RECORDS, BOOKING))


def login(page: Page, web: WebProcess, username: str) -> None:
    page.goto(f"{web.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{web.url}/fleet")


def check_glyphs(page: Page) -> None:
    assert missing_glyphs(page) == []


def held(store: Store, msg_id: int) -> int:
    return next(q.id for q in store.quarantine_rows() if q.msg_id == msg_id)


def test_release_from_quarantine(served: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    web, store, feeder = served["web"], served["store"], served["feeder"]
    hold(feeder, monkeypatch, 5, fed.booking(random.Random(5), 5), unknown=True)
    hold(feeder, monkeypatch, 6, {**fed.booking(random.Random(6), 6), "gravidity": -1}, unknown=False)
    feeder.quarantine_garbage()
    good, bad = held(store, 5), held(store, 6)
    with sync_playwright() as p:
        browser = chromium(p)
        auditor = browser.new_page(viewport={"width": 1440, "height": 900})
        login(auditor, web, "olga")
        auditor.goto(f"{web.url}/quarantine")
        expect(auditor.locator("table.quarantine tbody tr")).to_have_count(3)
        expect(auditor.locator("button.release")).to_have_count(0)  # an auditor is offered no release

        page = browser.new_page(viewport={"width": 1440, "height": 900})
        login(page, web, "alice")
        page.goto(f"{web.url}/quarantine")
        expect(page.locator("button.release")).to_have_count(2)  # held records only, not the unopened message
        expect(page.locator(f"#q-{good}")).to_contain_text(BOOKING)
        shot(page, "quarantine-release-offered")
        check_glyphs(page)
        page.locator(f"#q-{good} button.release").click()
        expect(page.locator("p.flash")).to_contain_text(f"已放行隔离项 #{good}：存入 1 条记录")
        expect(page.locator(f"#q-{good}")).to_have_count(0)
        assert store.record_ids("kiosk-001") == [5]
        assert store.read("SELECT status FROM feed_outbox WHERE msg_id = 5") == [("pending",)]
        shot(page, "quarantine-released")

        page.locator(f"#q-{bad} button.release").click()
        expect(page.locator("#release-refused")).to_contain_text(f"隔离项 #{bad} 未放行")
        expect(page.locator("#release-refused")).to_contain_text("schema-invalid")
        expect(page.locator(f"#q-{bad}")).to_be_visible()
        shot(page, "quarantine-release-refused")
        check_glyphs(page)

        page.goto(f"{web.url}/lang/en?back=/quarantine")
        expect(page.locator("button.release")).to_have_count(1)
        expect(page.locator("button.release")).to_have_text("Release")
        shot(page, "quarantine-en")
        browser.close()
    assert store.record_count() == 1


def test_an_admin_manages_users(served: dict[str, Any]) -> None:
    web, users = served["web"], served["users"]
    with sync_playwright() as p:
        browser = chromium(p)
        operator = browser.new_page(viewport={"width": 1440, "height": 900})
        login(operator, web, "alice")
        expect(operator.locator("header nav a[href='/users']")).to_have_count(0)
        operator.goto(f"{web.url}/users")
        expect(operator.locator("p.error")).to_contain_text("无权")

        page = browser.new_page(viewport={"width": 1440, "height": 900})
        login(page, web, "adam")
        page.click("header nav a[href='/users']")
        form = page.locator("form.user-create")
        form.locator("input[name=username]").fill("nina")
        form.locator("select[name=role]").select_option("operator")
        form.locator("input[name=password]").fill("nina's long passphrase")
        form.locator("button").click()
        expect(page.locator("p.flash")).to_contain_text("已新建用户 nina")
        row = page.locator("#user-nina")
        row.locator("select[name=role]").select_option("auditor")
        row.locator(".role-form button").click()
        expect(page.locator("#user-nina")).to_have_attribute("data-role", "auditor")

        for _ in range(5):  # nina mistypes her password five times: locked
            with pytest.raises(Exception, match="wrong password|locked"):
                users.authenticate("nina", "not her password")
        page.reload()
        expect(page.locator("#user-nina .user-state")).to_contain_text("已锁定")
        shot(page, "users-locked")
        check_glyphs(page)
        page.locator("#user-nina button.unlock").click()
        expect(page.locator("p.flash")).to_contain_text("已解锁 nina")
        expect(page.locator("#user-nina button.unlock")).to_have_count(0)

        page.locator("#user-nina .password-form input[name=password]").fill("a fresh passphrase")
        page.locator("#user-nina .password-form button").click()
        expect(page.locator("p.flash")).to_contain_text("已重置 nina 的密码")
        assert users.authenticate("nina", "a fresh passphrase").username == "nina"

        page.locator("#user-nina button.disable").click()
        expect(page.locator("#user-nina")).to_have_attribute("data-active", "0")
        expect(page.locator("#user-nina .user-state")).to_contain_text("已停用")
        page.locator("#user-adam button.disable").click()  # not oneself
        expect(page.locator("#user-refused")).to_contain_text("your own account")
        shot(page, "users-admin")
        check_glyphs(page)
        page.goto(f"{web.url}/audit")
        for action in ("user-create", "user-role", "user-unlock", "user-password", "user-disable"):
            expect(page.locator("table.audit")).to_contain_text(action)
        expect(page.locator("#chain")).to_contain_text("完整")
        page.goto(f"{web.url}/lang/en?back=/users")
        expect(page.locator("h1")).to_have_text("User accounts")
        shot(page, "users-en")
        browser.close()


def test_indicator_charts_and_device_faults(served: dict[str, Any]) -> None:
    web, store, feeder = served["web"], served["store"], served["feeder"]
    commit_population(store, feeder.rig.cipher)
    now = int(time.time() * 1000)
    feeder.state("kiosk-001", "birth", now, kind="kiosk", firmware="kiosk/1.4", heartbeat_s=30, faults=KIOSK_FAULTS)
    feeder.state("station-001", "birth", now, kind="station", heartbeat_s=30, faults=STATION_FAULTS)
    with sync_playwright() as p:
        browser = chromium(p)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        login(page, web, "olga")
        for _ in range(40):  # the live fleet's poll picks up the births
            if page.locator("#dev-kiosk-001 .badge").count() >= 5:
                break
            page.wait_for_timeout(250)
            page.reload()
        row = page.locator("#dev-kiosk-001")
        for label in ("缺纸", "密码键盘防拆触发", "密码键盘锁定", "凭条打印机故障", "zz-new-fault"):
            expect(row.locator("td.faults")).to_contain_text(label)
        expect(page.locator("#dev-station-001 td.faults")).to_contain_text("监护仪断开")
        shot(page, "fleet-device-faults")
        check_glyphs(page)
        page.goto(f"{web.url}/devices/kiosk-001")
        expect(page.locator("td.faults")).to_contain_text("凭条打印机故障: <script>alert(1)</script>")  # as text
        shot(page, "device-faults")

        page.click("header nav a[href='/indicators']")
        page.goto(f"{web.url}/indicators?year=2026&split=quarter")
        expect(page.locator("svg.chart")).to_have_count(11)
        bar = page.locator("#chart-early_booking_rate g.bar").nth(4)
        expect(bar).to_have_attribute("data-value", "76.9")
        expect(page.locator("#ind-early_booking_rate h2")).to_have_text("早孕建册率")
        shot(page, "indicators-zh")
        check_glyphs(page)
        page.goto(f"{web.url}/lang/en?back=/indicators")
        page.goto(f"{web.url}/indicators?year=2026&split=month&area=110105")
        expect(page.locator("#ind-early_booking_rate h2")).to_have_text("Early booking rate")
        expect(page.locator("#chart-early_booking_rate g.bar")).to_have_count(13)
        shot(page, "indicators-en-month")
        browser.close()
