"""The dashboard over HTTP (no browser): sessions, CSRF, roles, pages, metrics."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from central_hub.audit import AuditLog
from central_hub.web.app import create_app
from central_hub.web.services import Dashboard, WebConfig
from provisioning.site import Site
from tests.central_hub.web.conftest import FAST_ARGON2, PASSWORD, Feeder, RecordingSender, csrf_of, login

PAGES = ["/fleet", "/devices/kiosk-001", "/quarantine", "/audit", "/feed", "/devices/kiosk-001/commands"]


def now_ms() -> int:
    return int(time.time() * 1000)


def actions(dashboard: Dashboard) -> list[str]:
    return [e.action for e in reversed(AuditLog(dashboard.store).entries())]


@pytest.mark.parametrize("path", PAGES)
def test_no_page_without_a_session(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_no_stream_or_action_without_a_session(client: TestClient) -> None:
    assert client.get("/fleet/events").status_code == 401
    assert client.post("/quarantine/1/purge", data={"csrf": "x"}).status_code == 401
    assert client.post("/devices/kiosk-001/commands", data={"command": "reboot"}).status_code == 401
    assert client.get("/fleet", headers={"HX-Request": "true"}).headers["HX-Redirect"] == "/login"


def test_login_sets_a_strict_secure_cookie_and_is_audited(client: TestClient, dashboard: Dashboard) -> None:
    response = login(client, "alice")
    assert response.status_code == 303 and response.headers["location"] == "/fleet"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
    assert client.get("/fleet").status_code == 200
    assert actions(dashboard) == ["login"]


def test_wrong_password_then_lockout(client: TestClient, dashboard: Dashboard) -> None:
    for _ in range(4):
        assert login(client, "alice", "not the password").status_code == 401
    locked = login(client, "alice", "not the password")
    assert "账户已锁定" in locked.text
    assert login(client, "alice").status_code == 401  # locked even with the right password
    assert actions(dashboard) == ["login-failed"] * 6


def test_login_form_without_its_token_is_refused(client: TestClient) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": "alice", "password": PASSWORD, "csrf": "forged"})
    assert response.status_code == 403 and "mch_session" not in response.headers.get("set-cookie", "")


def test_fleet_table_and_filters(client: TestClient, feeder: Feeder, dashboard: Dashboard) -> None:
    t = now_ms()
    feeder.state("kiosk-001", "birth", t, firmware="kiosk/1.4", kind="kiosk", queue_depth=3, oldest_record_age_s=75,
                 faults=[{"code": "paper-out", "severity": "warning"}])
    feeder.state("station-001", "birth", t, kind="station", alarms={"beds_in_alarm": 2, "highest": "high"})
    dashboard.live.refresh()
    login(client, "alice")
    page = client.get("/fleet").text
    assert all(f'id="dev-{d}"' in page for d in ("kiosk-001", "kiosk-002", "station-001"))
    assert "kiosk/1.4" in page and "缺纸" in page and "2 床报警，最高 高" in page and "75 s" in page
    online = client.get("/fleet?state=online").text
    assert 'id="dev-kiosk-001"' in online and 'id="dev-kiosk-002"' not in online
    faulty = client.get("/fleet?fault=paper-out").text
    assert 'id="dev-kiosk-001"' in faulty and 'id="dev-station-001"' not in faulty
    stations = client.get("/fleet?kind=station").text
    assert 'id="dev-station-001"' in stations and 'id="dev-kiosk-001"' not in stations
    assert 'id="dev-kiosk-002"' in client.get("/fleet?state=never-seen&q=002").text


def test_english(client: TestClient) -> None:
    login(client, "alice")
    client.get("/lang/en?back=/fleet")
    page = client.get("/fleet").text
    assert "Fleet" in page and "never seen" in page and "设备总览" not in page


def test_forged_form_is_refused_and_audited(client: TestClient, dashboard: Dashboard,
                                            sender: RecordingSender) -> None:
    login(client, "alice")
    assert client.post("/devices/kiosk-001/commands", data={"command": "reboot"}).status_code == 403
    assert client.post("/devices/kiosk-001/commands", data={"command": "reboot", "csrf": "guess"}).status_code == 403
    token = csrf_of(client.get("/devices/kiosk-001").text)
    cross = client.post("/devices/kiosk-001/commands", data={"command": "reboot", "csrf": token},
                        headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert sender.sent == []
    assert actions(dashboard)[1:] == ["csrf-refused"] * 3


def test_operator_sends_a_command(client: TestClient, dashboard: Dashboard, sender: RecordingSender) -> None:
    login(client, "alice")
    token = csrf_of(client.get("/devices/kiosk-001").text)
    response = client.post("/devices/kiosk-001/commands", data={"command": "renew", "csrf": token})
    assert response.status_code == 303
    [(device, body)] = sender.sent
    assert device == "kiosk-001" and body["command"] == "renew"
    page = client.get(response.headers["location"]).text
    assert "命令已发送" in page and "更新证书" in page and "已发送，等待确认" in page
    assert actions(dashboard)[-1] == "command"


def test_auditor_cannot_command_or_purge(client: TestClient, dashboard: Dashboard, feeder: Feeder,
                                         sender: RecordingSender) -> None:
    feeder.quarantine_garbage()
    [item] = dashboard.quarantine.items()
    login(client, "olga")
    page = client.get("/quarantine").text
    assert "malformed" in page and "/purge" not in page  # no button
    token = csrf_of(page)
    assert client.post(f"/quarantine/{item.id}/purge", data={"csrf": token}).status_code == 403
    assert client.post("/devices/kiosk-001/commands", data={"command": "reboot", "csrf": token}).status_code == 403
    assert dashboard.quarantine.item(item.id) is not None and sender.sent == []
    assert actions(dashboard)[-2:] == ["forbidden", "forbidden"]


def test_operator_cannot_purge_admin_can(client: TestClient, dashboard: Dashboard, feeder: Feeder) -> None:
    feeder.quarantine_garbage()
    [item] = dashboard.quarantine.items()
    login(client, "alice")
    token = csrf_of(client.get("/quarantine").text)
    assert client.post(f"/quarantine/{item.id}/purge", data={"csrf": token}).status_code == 403
    client.cookies.clear()
    login(client, "adam")
    token = csrf_of(client.get("/quarantine").text)
    done = client.post(f"/quarantine/{item.id}/purge", data={"csrf": token})
    assert done.status_code == 303
    assert dashboard.quarantine.item(item.id) is None
    [purge] = AuditLog(dashboard.store).entries(action="quarantine-purge")
    assert purge.actor == "adam" and '"reason":"malformed"' in purge.detail


def test_audit_page_shows_the_chain_to_auditors_only(client: TestClient, dashboard: Dashboard) -> None:
    login(client, "alice")
    assert client.get("/audit").status_code == 403
    client.cookies.clear()
    login(client, "olga")
    page = client.get("/audit").text
    assert "完整" in page and "login" in page
    with dashboard.store.write():
        dashboard.store.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    assert "已被篡改：第 1 条" in client.get("/audit").text


def test_logout(client: TestClient) -> None:
    login(client, "alice")
    token = csrf_of(client.get("/fleet").text)
    assert client.post("/logout", data={"csrf": token}).status_code == 303
    assert client.get("/fleet").status_code == 303


def test_headers(client: TestClient) -> None:
    login(client, "alice")
    response = client.get("/fleet")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY" and response.headers["cache-control"] == "no-store"


def test_health_and_metrics(client: TestClient, feeder: Feeder, dashboard: Dashboard) -> None:
    t = now_ms()
    feeder.state("kiosk-001", "birth", t, queue_depth=4)
    feeder.quarantine_garbage()
    dashboard.store.put_worker_stats("hub", t, {"records_stored": 12, "queue_depth": 3})
    dashboard.live.refresh(full=True)
    assert client.get("/healthz").text.startswith("ok 3 devices")
    text = client.get("/metrics").text
    assert 'mch_hub_records_stored_total{worker="hub"} 12' in text
    assert 'mch_hub_worker_queue_depth{worker="hub"} 3' in text
    assert 'mch_hub_quarantine_items{reason="malformed"} 1' in text
    assert 'mch_hub_devices{state="online"} 1' in text and 'mch_hub_devices{state="never-seen"} 2' in text
    assert "mch_hub_outbox_records 4" in text


def test_hub_facts_on_the_fleet_page(client: TestClient, dashboard: Dashboard) -> None:
    t = now_ms()
    dashboard.store.set_hub_faults("disk", {"/var/lib/mch-hub": "12 MiB free, below 500 MiB"}, t)
    dashboard.store.set_hub_faults("device-reset", {"kiosk-002": "counter went back: outbox restored?"}, t)
    dashboard.live.refresh()
    login(client, "alice")
    page = client.get("/fleet").text
    banner = page.split('id="hub-faults"')[1].split("</section>")[0]
    assert "中心磁盘空间不足" in banner and "12 MiB free" in banner and "kiosk-002" not in banner
    row = page.split('id="dev-kiosk-002"')[1].split("</tr>")[0]
    assert "检测到设备重置" in row
    assert 'id="dev-kiosk-002"' in client.get("/fleet?fault=device-reset").text


def dead_letter(dashboard: Dashboard) -> int:
    """A Bundle the county refused, as the feed's sender leaves it (central_hub.feed.outbox)."""
    with dashboard.store.write():
        dashboard.store.execute(
            "INSERT INTO feed_outbox (device_id, msg_id, schema_id, queued_at_ms, status, attempts, next_attempt_ms,"
            " last_error, last_http_status) VALUES ('kiosk-001', 7, 'pregnancy-record/1', ?, 'dead', 3, 0,"
            " 'Patient.identifier: invalid', 422)", (now_ms(),))
    return int(dashboard.store.read("SELECT id FROM feed_outbox")[0][0])


def test_feed_status_and_audited_requeue(client: TestClient, dashboard: Dashboard) -> None:
    item = dead_letter(dashboard)
    login(client, "olga")
    page = client.get("/feed").text
    assert "被拒（死信）" in page and "Patient.identifier: invalid" in page and "/feed/requeue" not in page
    assert client.post("/feed/requeue", data={"csrf": csrf_of(page), "id": str(item), "note": "x"}).status_code == 403
    client.cookies.clear()
    login(client, "alice")
    token = csrf_of(client.get("/feed").text)
    assert client.post("/feed/requeue", data={"csrf": token, "id": str(item), "note": ""}).status_code == 400
    done = client.post("/feed/requeue", data={"csrf": token, "id": str(item), "note": "county fixed its validator"})
    assert done.status_code == 303 and "已重新排队 1 条" in client.get(done.headers["location"]).text
    assert dashboard.store.read("SELECT status, note FROM feed_outbox")[0] == (
        "pending", "county fixed its validator (by alice)")
    [entry] = AuditLog(dashboard.store).entries(action="feed-requeue")
    assert entry.actor == "alice" and entry.target == str(item)
    assert "mch_hub_feed_pending 1" in client.get("/metrics").text


@pytest.mark.parametrize("back", ["//evil.example/", "/\\evil.example/", "https://evil.example/"])
def test_language_switch_is_no_open_redirect(client: TestClient, back: str) -> None:
    assert client.get("/lang/en", params={"back": back}).headers["location"] == "/fleet"


def test_a_command_without_an_answer_times_out_on_the_page(client: TestClient, dashboard: Dashboard) -> None:
    login(client, "alice")
    cmd = dashboard.commands.issue("alice", "kiosk-001", "reboot", timeout_s=1)
    deadline = time.monotonic() + 10
    while dashboard.commands.get(cmd.id).state.value == "sent" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert dashboard.commands.get(cmd.id).state.value == "timeout"  # the dashboard's own housekeeping
    assert "超时" in client.get("/devices/kiosk-001/commands").text


def test_a_database_that_is_away_gets_a_clear_503(dash_site: Site, tmp_path: Path) -> None:
    dash = Dashboard(WebConfig(dash_site.path, f"sqlite:///{tmp_path / 'away.db'}"), password_hasher=FAST_ARGON2)
    dash.users.create("alice", "operator", PASSWORD)
    with TestClient(create_app(dash), base_url="https://testserver", follow_redirects=False) as client:
        login(client, "alice")
        dash.store.close()  # the database is gone from under the dashboard (SQLite: the file's connection)
        page = client.get("/fleet")
        assert page.status_code == 503 and "中心数据库暂时无法访问" in page.text
        assert client.get("/healthz").status_code == 503
