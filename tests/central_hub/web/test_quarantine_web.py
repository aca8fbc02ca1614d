"""Quarantine release over HTTP (no browser): who may, CSRF, the refusal's reason, a second release."""

from __future__ import annotations

import random
from typing import Any

import pytest
from starlette.testclient import TestClient

from central_hub.audit import AuditLog
from central_hub.web.services import Dashboard
from mch_link import schemas
from mch_link.envelope import Record
from mch_link.topics import Kind
from tests.central_hub.feed import records as fed
from tests.central_hub.web.conftest import Feeder, csrf_of, login

BOOKING = "antenatal-booking/1"
AT_MS = 1_790_000_000_000


def hold(feeder: Feeder, monkeypatch: pytest.MonkeyPatch, body: dict[str, Any], msg_id: int = 3,
         unknown: bool = True) -> None:
    """A booking from kiosk-001 held by the hub: as unknown-schema (a hub older than the kiosk), or, with
    `unknown=False`, as schema-invalid by today's schema."""
    dev = feeder.devices["kiosk-001"]
    real = schemas.known
    with monkeypatch.context() as m:
        if unknown:
            m.setattr(schemas, "known", lambda s: s != BOOKING and real(s))
        feeder.rig.one(*dev.seal([Record(msg_id, body, AT_MS)], Kind.RECORDS, BOOKING), at_ms=AT_MS)


def held_id(dashboard: Dashboard) -> int:
    return next(q.id for q in dashboard.quarantine.items() if q.schema_id == BOOKING)


def test_an_operator_releases_a_held_record_once(client: TestClient, dashboard: Dashboard, feeder: Feeder,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    hold(feeder, monkeypatch, fed.booking(random.Random(3), 3))
    feeder.quarantine_garbage()  # a message never opened: no release offered for it
    item = held_id(dashboard)
    login(client, "alice")
    page = client.get("/quarantine")
    assert page.text.count('class="primary release"') == 1 and f"/quarantine/{item}/release" in page.text

    done = client.post(f"/quarantine/{item}/release", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303 and "quarantine.released" in done.headers["location"]
    assert "已放行隔离项" in client.get(done.headers["location"]).text
    assert dashboard.store.record_ids("kiosk-001") == [3]
    assert dashboard.store.read("SELECT count(*) FROM feed_outbox WHERE msg_id = 3")[0][0] == 1

    again = client.post(f"/quarantine/{item}/release", data={"csrf": csrf_of(page.text)})
    assert again.status_code == 409 and "released or purged already" in again.text
    assert dashboard.store.record_count() == 1
    assert [e.action for e in AuditLog(dashboard.store).entries(2)] == ["quarantine-release-refused",
                                                                          "quarantine-release"]


def test_a_record_still_invalid_is_refused_with_its_reason(client: TestClient, dashboard: Dashboard,
                                                            feeder: Feeder, monkeypatch: pytest.MonkeyPatch) -> None:
    hold(feeder, monkeypatch, {**fed.booking(random.Random(4), 4), "gravidity": -1}, unknown=False)
    item = held_id(dashboard)
    login(client, "adam")
    page = client.get("/quarantine")
    refused = client.post(f"/quarantine/{item}/release", data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 409
    assert f"隔离项 #{item} 未放行" in refused.text and "schema-invalid" in refused.text and "/gravidity" in refused.text
    assert dashboard.store.record_count() == 0 and held_id(dashboard) == item


def test_an_auditor_cannot_release_and_a_forged_form_is_refused(client: TestClient, dashboard: Dashboard,
                                                                 feeder: Feeder,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    hold(feeder, monkeypatch, fed.booking(random.Random(5), 5))
    item = held_id(dashboard)
    login(client, "olga")
    page = client.get("/quarantine")
    assert "release" not in page.text.split("<table", 1)[1]  # no button for the auditor
    assert client.post(f"/quarantine/{item}/release", data={"csrf": csrf_of(page.text)}).status_code == 403
    client.post("/logout", data={"csrf": csrf_of(page.text)})
    login(client, "alice")
    assert client.post(f"/quarantine/{item}/release", data={"csrf": "forged"}).status_code == 403
    cross = client.post(f"/quarantine/{item}/release", data={"csrf": csrf_of(client.get("/quarantine").text)},
                        headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert dashboard.store.record_count() == 0
    assert {"forbidden", "csrf-refused"} <= {e.action for e in AuditLog(dashboard.store).entries()}


def test_quarantine_export_download(client: TestClient, dashboard: Dashboard, feeder: Feeder,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    hold(feeder, monkeypatch, fed.booking(random.Random(8), 8), msg_id=8)
    feeder.quarantine_garbage()
    login(client, "olga")
    got = client.get("/quarantine/export?format=csv&reason=unknown-schema")
    assert got.status_code == 200 and 'filename="quarantine.csv"' in got.headers["content-disposition"]
    header, row = got.text.splitlines()
    assert header == "id,reason,device_id,topic,schema_id,msg_id,seen,first_at,last_at,first_at_ms,last_at_ms,detail"
    assert row.startswith(f"1,unknown-schema,kiosk-001,mch/v1/kiosk-001/rec,{BOOKING},8,1,2026-09-21T14:13:20.000Z,")
    everything = client.get("/quarantine/export?format=json").json()
    assert [(q["id"], q["reason"], q["device_id"]) for q in everything] == [
        (1, "unknown-schema", "kiosk-001"), (2, "malformed", "kiosk-002")]
    assert "payload" not in everything[0]
    assert AuditLog(dashboard.store).entries(1)[0].action == "quarantine-export"
