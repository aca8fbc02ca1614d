"""The dashboard in real headless Chromium against the real broker, hub worker, device link and
`mch-hub web`: login, the fleet changing live (a fault appears, the device goes offline), a
command sent and acknowledged, the quarantine browser, CSRF and role refusals. Screenshots in
build/screenshots/dashboard/, each checked for missing-glyph boxes."""

from __future__ import annotations

import json
import shutil
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Page, expect, sync_playwright

from central_hub.store import open_store
from central_hub.store.model import FleetRow
from mch_link.device import DeviceLink
from mch_link.keys import LinkKeys
from mch_link.registry import DeviceKind, DeviceStatus, RegistryEntry, write_entry
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.site import Site
from tests.central_hub.web.browser import WebProcess, add_user, chromium, missing_glyphs, shot, web_process
from tests.support.broker import device_tls, start_broker
from tests.support.hub import HubFactory, hub_site

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PASSWORD = "correct horse battery staple"
WAIT_MS = 15_000


@pytest.fixture
def dash_broker(site: Site) -> Iterator[BrokerProcess]:
    site.issue_hub_identity("hub-2")  # the dashboard's own identity, before the broker renders its ACL
    proc = start_broker(site.path)
    yield proc
    proc.stop()
    shutil.rmtree(proc.run_dir, ignore_errors=True)


@pytest.fixture
def system(site: Site, dash_broker: BrokerProcess, enroll_device: Any, hub_factory: HubFactory,
           tmp_path: Path) -> Iterator[dict[str, Any]]:
    bundle = enroll_device("kiosk-001", "kiosk")
    enroll_device("station-001", "station")
    enroll_device("bridge-001", "bridge")
    hub = hub_factory(site.path, broker=dash_broker)
    for name, role in (("alice", "operator"), ("olga", "auditor")):
        add_user(hub.db_url, name, role, PASSWORD)
    web = web_process(site.path, hub.db_url, tmp_path / "web.log", "--hub-id", "hub-2", "--broker",
                      f"{dash_broker.host}:{dash_broker.port}")
    faults: list[dict[str, Any]] = []
    link = DeviceLink.from_bundle(bundle, tmp_path / "outbox.db", broker=(dash_broker.host, dash_broker.port),
                                  heartbeat_s=0.5, faults=lambda: list(faults),
                                  on_command=lambda command, args: ("done", f"{command} accepted"))
    link.start()
    try:
        yield {"web": web, "link": link, "faults": faults, "bundle": bundle, "broker": dash_broker, "db_url": hub.db_url}
    finally:
        link.stop()
        web.stop()


def login(page: Page, web: WebProcess, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{web.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def check_glyphs(page: Page) -> None:
    assert missing_glyphs(page) == []


def publish_garbage(bundle: Path, broker: BrokerProcess) -> None:
    tls = device_tls(bundle)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="kiosk-001-raw", protocol=mqtt.MQTTv5)
    client.tls_set(ca_certs=str(tls.ca), certfile=str(tls.cert), keyfile=str(tls.key), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    client.connect(broker.host, broker.port)
    client.loop_start()
    deadline = time.monotonic() + 10  # publish only once the CONNACK is in (paho refuses before it)
    while not client.is_connected() and time.monotonic() < deadline:
        time.sleep(0.02)
    client.publish("mch/v1/kiosk-001/rec", b"\xa1 not an envelope", qos=1).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def test_operator_sees_the_fleet_live_and_commands_a_device(system: dict[str, Any]) -> None:
    web: WebProcess = system["web"]
    with sync_playwright() as p:
        browser = chromium(p)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{web.url}/fleet")
        expect(page).to_have_url(f"{web.url}/login")  # no page without a session
        shot(page, "login-zh")
        check_glyphs(page)
        login(page, web, "alice", "wrong password!")
        expect(page.locator("p.error")).to_contain_text("用户名或密码错误")
        login(page, web, "alice")
        expect(page).to_have_url(f"{web.url}/fleet")
        row = page.locator("#dev-kiosk-001")
        expect(row).to_have_attribute("data-state", "online", timeout=WAIT_MS)
        expect(page.locator("#dev-station-001")).to_have_attribute("data-state", "never-seen")
        shot(page, "fleet-online")
        check_glyphs(page)

        system["faults"].append({"code": "paper-out", "severity": "warning", "detail": "receipt printer"})
        expect(row.locator(".badge.warning")).to_contain_text("缺纸", timeout=WAIT_MS)  # live, no reload
        expect(page.locator("#summary")).to_contain_text("故障 1", timeout=WAIT_MS)
        shot(page, "fleet-fault-live")

        page.click("a[href='/devices/kiosk-001']")
        page.click("button[value='renew']")
        expect(page.locator("p.flash")).to_contain_text("命令已发送")
        expect(page.locator("#commands tbody tr").first).to_have_class("cmd-done", timeout=WAIT_MS)
        expect(page.locator("#commands tbody tr").first).to_contain_text("renew accepted")
        expect(page.locator("table.history")).to_contain_text("fault-raised")
        shot(page, "device-command-done")
        check_glyphs(page)

        page.goto(f"{web.url}/fleet")
        expect(row).to_have_attribute("data-state", "online", timeout=WAIT_MS)
        system["link"].stop()  # the device says goodbye: its death reaches the hub
        expect(page.locator("#dev-kiosk-001")).to_have_attribute("data-state", "offline", timeout=WAIT_MS)
        shot(page, "fleet-offline-live")

        page.click("a.lang")
        expect(page.locator("h1")).to_have_text("Fleet")
        expect(page.locator("#dev-kiosk-001 td.state")).to_contain_text("offline")
        shot(page, "fleet-en")
        check_glyphs(page)
        browser.close()


def test_quarantine_csrf_and_roles(system: dict[str, Any]) -> None:
    web: WebProcess = system["web"]
    publish_garbage(system["bundle"], system["broker"])
    with sync_playwright() as p:
        browser = chromium(p)
        auditor = browser.new_page(viewport={"width": 1440, "height": 900})
        login(auditor, web, "olga")
        auditor.goto(f"{web.url}/quarantine")
        for _ in range(50):
            if auditor.locator("table.quarantine").count():
                break
            auditor.wait_for_timeout(200)
            auditor.reload()
        expect(auditor.locator("table.quarantine")).to_contain_text("malformed")
        expect(auditor.locator("button.danger")).to_have_count(0)  # an auditor is offered no purge
        shot(auditor, "quarantine-auditor")
        check_glyphs(auditor)
        item = auditor.locator("table.quarantine tbody tr").first.get_attribute("id")
        assert item is not None
        token = auditor.locator("input[name=csrf]").first.get_attribute("value")
        refused = auditor.request.post(f"{web.url}/quarantine/{item[2:]}/purge", form={"csrf": token or ""})
        assert refused.status == 403 and "无权" in refused.text()
        auditor.goto(f"{web.url}/audit")
        expect(auditor.locator("#chain")).to_contain_text("完整")
        expect(auditor.locator("table.audit")).to_contain_text("forbidden")
        shot(auditor, "audit-log")
        check_glyphs(auditor)

        operator = browser.new_page(viewport={"width": 1440, "height": 900})
        login(operator, web, "alice")
        operator.goto(f"{web.url}/devices/bridge-001")  # a bridge: its config-push form, no update button
        expect(operator.locator(".config-form input[name=heartbeat_ms]")).to_be_visible()
        expect(operator.locator("button[value='update-offer']")).to_have_count(0)
        shot(operator, "device-bridge-config")
        check_glyphs(operator)
        operator.goto(f"{web.url}/devices/kiosk-001")
        operator.evaluate("() => { document.querySelector('.commands-form input[name=csrf]').value = 'forged'; }")
        operator.click("button[value='rebirth']")
        expect(operator.locator("p.error")).to_contain_text("安全令牌")
        shot(operator, "csrf-refused")
        operator.goto(f"{web.url}/audit")
        expect(operator.locator("p.error")).to_contain_text("无权")  # an operator may not read the audit log
        operator.goto(f"{web.url}/feed")
        expect(operator.locator("#feed-state")).to_be_visible()
        shot(operator, "feed")
        browser.close()


def crowd(site_dir: Path, db_url: str, n: int) -> None:
    """`n` registered devices in every state, with faults, alarm summaries and expiring certificates."""
    now = datetime.now(UTC)
    now_ms = int(now.timestamp() * 1000)
    kinds = [DeviceKind.KIOSK, DeviceKind.STATION, DeviceKind.BRIDGE]
    ids = [f"{kinds[i % 3].value}-{i:04d}" for i in range(n)]
    for i, device_id in enumerate(ids):
        write_entry(site_dir, RegistryEntry(device_id, kinds[i % 3], DeviceStatus.REVOKED if i == 6 else DeviceStatus.ACTIVE,
                                            f"{i + 1:016x}", now + timedelta(days=(i * 37) % 400 - 3),
                                            LinkKeys.generate(device_id)))
    store = open_store(db_url)
    try:
        with store.transaction(ids) as txn:
            for i, device_id in enumerate(ids):
                txn.fleet(device_id)
                fault = [{"code": ("paper-out", "pinpad-lockout", "monitor-disconnected", "low-disk")[i % 4],
                          "severity": ("warning", "critical")[i % 2], "detail": "synthetic"}] if i % 5 == 0 else []
                station = device_id.startswith("station")
                txn.put_fleet(FleetRow(device_id, online=i % 6 != 1, bdseq=0, seq=1, births=1, last_seen_ms=now_ms - i * 1000,
                                       state_at_ms=now_ms - (i % 9) * 40_000, heartbeat_s=30, firmware="fw/2.1",
                                       kind=device_id.split("-")[0], queue_depth=i % 40, oldest_record_age_s=(i * 13) % 4000,
                                       faults=json.dumps(fault), alarm_beds=i % 3 if station else None,
                                       alarm_highest=("none", "medium", "high")[i % 3] if station else None))
        store.set_hub_faults("disk", {"/var/lib/mch-hub": "380 MiB free, below 500 MiB"}, now_ms)
    finally:
        store.close()


def test_a_busy_fleet_page(system: dict[str, Any], site: Site) -> None:
    web: WebProcess = system["web"]
    db_url = system["db_url"]
    crowd(hub_site(site.path, "hub-2"), db_url, 240)  # the registry the dashboard reads
    with sync_playwright() as p:
        browser = chromium(p)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        login(page, web, "alice")
        # rows committed with old receive times (as after a store outage) and new registry files are
        # picked up by the live fleet's full refresh (every 10 s)
        for _ in range(40):
            if page.locator("table.fleet tbody tr").count() == 100:
                break
            page.wait_for_timeout(500)
            page.reload()
        expect(page.locator("table.fleet tbody tr")).to_have_count(100)
        expect(page.locator("#hub-faults")).to_contain_text("中心磁盘空间不足")
        expect(page.locator("#dev-kiosk-0006 td.state")).to_contain_text("已吊销")
        shot(page, "fleet-busy")
        check_glyphs(page)
        page.select_option("select[name=state]", "silent")
        page.select_option("select[name=fault]", "any")
        page.click("form.filters button[type=submit]")
        states = page.locator("table.fleet tbody tr").evaluate_all("rows => rows.map(r => r.dataset.state)")
        assert states and set(states) == {"silent"}
        shot(page, "fleet-filtered-silent-faults")
        browser.close()
