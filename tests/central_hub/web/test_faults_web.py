"""Device faults in the fleet table and the device page: known codes in words (zh and en), a kiosk's
`device-<name>` codes by device, unknown codes shown as sent, every device-supplied text escaped."""

from __future__ import annotations

import time

import pytest
from starlette.testclient import TestClient

from central_hub.web.i18n import fault_label
from central_hub.web.services import Dashboard
from tests.central_hub.web.conftest import Feeder, login

KIOSK_FAULTS = [
    {"code": "paper-out", "severity": "warning", "detail": "receipt printer"},
    {"code": "pinpad-tamper", "severity": "critical", "detail": "tamper switch"},
    {"code": "pinpad-lockout", "severity": "critical"},
    {"code": "device-receipt", "severity": "critical", "detail": "<script>alert(1)</script>"},
    {"code": "zz-new-fault", "severity": "info", "detail": "a code this hub does not know"},
]
STATION_FAULTS = [{"code": "monitor-disconnected", "severity": "warning", "detail": "bed-3 <b>"},
                  {"code": "low-disk", "severity": "warning", "detail": "archive 300 MiB free"}]


@pytest.fixture
def faulty(feeder: Feeder, dashboard: Dashboard) -> None:
    now = int(time.time() * 1000)
    feeder.state("kiosk-001", "birth", now, kind="kiosk", firmware="kiosk/1.4", heartbeat_s=30, faults=KIOSK_FAULTS)
    feeder.state("station-001", "birth", now, kind="station", heartbeat_s=30, faults=STATION_FAULTS)
    dashboard.live.refresh()  # the page reads the live read model: no waiting on its next poll


def test_labels() -> None:
    zh, en = fault_label("zh"), fault_label("en")
    assert [zh(c) for c in ("paper-out", "pinpad-tamper", "pinpad-lockout", "monitor-disconnected", "low-disk")] == [
        "缺纸", "密码键盘防拆触发", "密码键盘锁定", "监护仪断开", "磁盘空间不足"]
    assert [en(c) for c in ("paper-out", "pinpad-lockout", "device-reset")] == [
        "paper out", "PIN pad locked out", "device reset detected"]
    # the kiosk's (docs/kiosk-app.md) and the station's (fetal_monitor_station/health.py) codes
    assert [zh(c) for c in ("cover-open", "printer-offline", "printer-fault", "pinpad-gone", "card-reader-gone",
                            "idcard-reader", "a4-printer", "ioboard", "archive-disk-low")] == [
        "打印机盖打开", "打印机离线", "打印机故障", "密码键盘已断开", "读卡器已断开", "身份证阅读器故障", "A4 打印机故障",
        "控制板故障", "归档磁盘空间不足"]
    assert (zh("device-receipt"), en("device-pinpad")) == ("凭条打印机故障", "PIN pad fault")
    assert (zh("device-scanner"), en("device-scanner")) == ("scanner故障", "scanner fault")  # name as sent
    assert (zh("zz-new-fault"), en("zz-new-fault")) == ("zz-new-fault", "zz-new-fault")


def test_fleet_and_device_pages_show_every_fault(client: TestClient, faulty: None) -> None:
    login(client, "olga")
    fleet = client.get("/fleet").text
    row = fleet.split('id="dev-kiosk-001"', 1)[1].split("</tr>", 1)[0]
    for label in ("缺纸", "密码键盘防拆触发", "密码键盘锁定", "凭条打印机故障", "zz-new-fault"):
        assert label in row
    assert '<span class="badge critical" title="tamper switch">密码键盘防拆触发</span>' in row
    assert "<script>" not in fleet and "&lt;script&gt;alert(1)&lt;/script&gt;" in row
    station = fleet.split('id="dev-station-001"', 1)[1].split("</tr>", 1)[0]
    assert "监护仪断开" in station and "磁盘空间不足" in station and "bed-3 &lt;b&gt;" in station
    assert '<option value="zz-new-fault" >zz-new-fault</option>' in fleet  # the filter offers it too

    only = client.get("/fleet?fault=pinpad-tamper").text
    assert 'id="dev-kiosk-001"' in only and 'id="dev-station-001"' not in only

    detail = client.get("/devices/kiosk-001").text
    assert "缺纸: receipt printer" in detail and "zz-new-fault: a code this hub does not know" in detail
    assert "<script>" not in detail
    english = client.get("/lang/en?back=/devices/kiosk-001", follow_redirects=True).text
    assert "paper out: receipt printer" in english and "receipt printer fault" in english
    assert "PIN pad tamper" in english and "PIN pad locked out" in english
