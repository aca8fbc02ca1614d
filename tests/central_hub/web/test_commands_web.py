"""The device page offers only the commands that device's kind carries out; config-push has a form.

Kiosks and stations: rebirth, renew. Bridges: rebirth, reboot, config-push of bounded settings
(checked against the bridge firmware's own table and handler). No update-offer button anywhere:
firmware goes out through `mch-provision firmware offer`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from starlette.testclient import TestClient

from central_hub.audit import AuditLog
from central_hub.web.command_forms import BRIDGE_SETTINGS, config_push_args
from central_hub.web.services import Dashboard
from provisioning.devsite import make_dev_site
from provisioning.site import Site
from tests.central_hub.web.conftest import DEVICES, RecordingSender, csrf_of, login

FIRMWARE = Path(__file__).resolve().parents[3] / "firmware"
if str(FIRMWARE) not in sys.path:
    sys.path.insert(0, str(FIRMWARE))

from mchfw import commands as bridge_commands  # noqa: E402  (the bridge's code, run here under CPython)
from mchfw.store import Store as BridgeStore  # noqa: E402

ALL = ("rebirth", "config-push", "crl-refresh", "renew", "reboot", "update-offer")


@pytest.fixture
def dash_site(tmp_path: Path) -> Site:
    """The usual devices and a bridge."""
    site = make_dev_site(tmp_path / "site", hub_ids=("hub", "hub-2"))
    for device_id, kind in {**DEVICES, "bridge-001": "bridge"}.items():
        site.enroll(device_id, kind)
    return site


def buttons(page: str) -> set[str]:
    return {c for c in ALL if f'name="command" value="{c}"' in page}


def commands_rows(dashboard: Dashboard) -> int:
    return int(dashboard.store.read("SELECT COUNT(*) FROM commands")[0][0])


def test_each_kind_gets_only_its_buttons(client: TestClient) -> None:
    login(client, "alice")
    assert buttons(client.get("/devices/kiosk-001").text) == {"rebirth", "renew"}
    assert buttons(client.get("/devices/station-001").text) == {"rebirth", "renew"}
    bridge = client.get("/devices/bridge-001").text
    assert buttons(bridge) == {"rebirth", "reboot", "config-push"}
    assert 'name="heartbeat_ms" min="1000" max="3600000"' in bridge
    assert 'name="health_window_ms" min="10000" max="3600000"' in bridge
    assert "心跳间隔（毫秒）" in bridge and "mch-provision firmware offer" in bridge


@pytest.mark.parametrize("command", ["update-offer", "crl-refresh", "config-push", "reboot"])
def test_a_kiosk_is_sent_nothing_it_would_refuse(client: TestClient, dashboard: Dashboard, sender: RecordingSender,
                                                 command: str) -> None:
    login(client, "alice")
    token = csrf_of(client.get("/devices/kiosk-001").text)
    response = client.post("/devices/kiosk-001/commands", data={"command": command, "csrf": token, "heartbeat_ms": "5000"})
    assert response.status_code == 400 and "此类设备不执行该命令" in response.text
    assert sender.sent == [] and commands_rows(dashboard) == 0


def test_config_push_reaches_the_bridge_with_its_settings(client: TestClient, dashboard: Dashboard,
                                                          sender: RecordingSender) -> None:
    login(client, "alice")
    token = csrf_of(client.get("/devices/bridge-001").text)
    response = client.post("/devices/bridge-001/commands", data={
        "command": "config-push", "csrf": token, "heartbeat_ms": "5000", "health_window_ms": ""})
    assert response.status_code == 303
    [(device, body)] = sender.sent
    assert device == "bridge-001" and body["command"] == "config-push" and body["args"] == {"bridge": {"heartbeat_ms": 5000}}
    [entry] = AuditLog(dashboard.store).entries(action="command")
    assert entry.actor == "alice" and entry.target == "bridge-001"
    assert json.loads(entry.detail)["args"] == {"bridge": {"heartbeat_ms": 5000}}
    assert "下发配置" in client.get("/devices/bridge-001/commands").text


@pytest.mark.parametrize("fields", [{}, {"heartbeat_ms": "999"}, {"heartbeat_ms": "3600001"},
                                    {"health_window_ms": "9999"}, {"heartbeat_ms": "5e3"}, {"heartbeat_ms": "-5"}])
def test_settings_the_bridge_would_refuse_are_refused_here(client: TestClient, dashboard: Dashboard,
                                                           sender: RecordingSender, fields: dict[str, str]) -> None:
    login(client, "alice")
    token = csrf_of(client.get("/devices/bridge-001").text)
    response = client.post("/devices/bridge-001/commands", data={"command": "config-push", "csrf": token, **fields})
    assert response.status_code == 400 and "配置被拒" in response.text
    assert sender.sent == [] and commands_rows(dashboard) == 0


def test_a_bridge_is_rebooted_and_a_kiosk_renewed(client: TestClient, sender: RecordingSender) -> None:
    login(client, "alice")
    token = csrf_of(client.get("/devices/bridge-001").text)
    assert client.post("/devices/bridge-001/commands", data={"command": "reboot", "csrf": token}).status_code == 303
    assert client.post("/devices/kiosk-001/commands", data={"command": "renew", "csrf": token}).status_code == 303
    assert [(d, b["command"], "args" in b) for d, b in sender.sent] == [("bridge-001", "reboot", False),
                                                                        ("kiosk-001", "renew", False)]


def test_the_auditor_gets_no_form_and_cannot_push(client: TestClient, sender: RecordingSender) -> None:
    login(client, "olga")
    page = client.get("/devices/bridge-001").text
    assert buttons(page) == set() and 'name="heartbeat_ms"' not in page
    response = client.post("/devices/bridge-001/commands", data={"command": "config-push", "csrf": csrf_of(page),
                                                                 "heartbeat_ms": "5000"})
    assert response.status_code == 403 and sender.sent == []


def test_the_bounds_are_the_bridges_and_the_bridge_applies_what_the_form_makes(tmp_path: Path) -> None:
    assert BRIDGE_SETTINGS == bridge_commands.SETTINGS
    link = SimpleNamespace(heartbeat_ms=30_000)
    store = BridgeStore(str(tmp_path / "settings"))
    lo_hi = {name: str(hi) for name, (_, hi) in BRIDGE_SETTINGS.items()}
    status, detail = bridge_commands.config_push(link, store, config_push_args(lo_hi))
    assert status == bridge_commands.STATUS_DONE, detail
    assert link.heartbeat_ms == 3_600_000 and BridgeStore(str(tmp_path / "settings")).data["settings"] == {
        "heartbeat_ms": 3_600_000, "health_window_ms": 3_600_000}
