"""Certificate expiry on the dashboard: warn 30 days ahead, say "expired" after, count both in /metrics.

The devices are enrolled with real certificates of chosen validity (the registry's not_after is
the certificate's); the dashboard's clock runs SHIFT_DAYS ahead, so a 1-day certificate is expired.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from starlette.testclient import TestClient

from central_hub.web.app import create_app
from central_hub.web.services import Dashboard, WebConfig
from provisioning.bundle import CERT_FILE
from provisioning.devsite import make_dev_site
from tests.central_hub.web.conftest import FAST_ARGON2, PASSWORD, login

SHIFT_DAYS = 3
# device -> certificate validity in days; days left on the dashboard's clock = validity - SHIFT_DAYS - a moment
VALIDITY = {"kiosk-soon": 12, "kiosk-edge": 33, "kiosk-later": 35, "station-far": 400, "kiosk-gone": 1}
WARNED = {"kiosk-soon": 8, "kiosk-edge": 29}  # floor(days left)
NOT_WARNED = ("kiosk-later", "station-far")


@pytest.fixture
def cert_dashboard(tmp_path: Path, dash_db: str) -> Iterator[Dashboard]:
    site = make_dev_site(tmp_path / "site", hub_ids=("hub", "hub-2"))
    bundles = {d: site.enroll(d, d.split("-")[0], validity=timedelta(days=days)).bundle for d, days in VALIDITY.items()}
    dash = Dashboard(WebConfig(site.path, dash_db, "hub-2"), clock=lambda: time.time() + SHIFT_DAYS * 86400,
                     password_hasher=FAST_ARGON2)
    dash.users.create("alice", "operator", PASSWORD)
    dash.bundles = bundles  # type: ignore[attr-defined]  # for the certificate check below
    yield dash
    dash.close()


@pytest.fixture
def cert_client(cert_dashboard: Dashboard) -> Iterator[TestClient]:
    with TestClient(create_app(cert_dashboard), base_url="https://testserver", follow_redirects=False) as c:
        login(c, "alice")
        yield c


def row(page: str, device_id: str) -> str:
    return page.split(f'id="dev-{device_id}"')[1].split("</tr>")[0]


def test_the_registry_holds_the_certificates_not_after(cert_dashboard: Dashboard) -> None:
    bundle: Path = cert_dashboard.bundles["kiosk-soon"]  # type: ignore[attr-defined]
    cert = x509.load_pem_x509_certificate((bundle / CERT_FILE).read_bytes())
    assert cert_dashboard.directory.get("kiosk-soon").not_after == cert.not_valid_after_utc  # type: ignore[union-attr]


def test_fleet_badges_in_chinese(cert_client: TestClient) -> None:
    page = cert_client.get("/fleet").text
    for device_id, days in WARNED.items():
        cells = row(page, device_id)
        assert "cert-warn" in cells and f'<span class="badge warning">{days} 天内到期</span>' in cells
    for device_id in NOT_WARNED:
        cells = row(page, device_id)
        assert "cert-warn" not in cells and "天内到期" not in cells and "已过期" not in cells
    gone = row(page, "kiosk-gone")
    assert "cert-warn" in gone and '<span class="badge critical">已过期</span>' in gone and "天内到期" not in gone
    assert "证书到期 ≤30d 3" in page  # the summary counts the two soon and the expired one


def test_fleet_badges_in_english(cert_client: TestClient) -> None:
    cert_client.get("/lang/en?back=/fleet")
    page = cert_client.get("/fleet").text
    assert '<span class="badge warning">expires in 8 days</span>' in row(page, "kiosk-soon")
    assert '<span class="badge critical">expired</span>' in row(page, "kiosk-gone")
    assert "expires in" not in row(page, "kiosk-later") and "expired" not in row(page, "kiosk-later")


def test_device_page_says_so(cert_client: TestClient) -> None:
    assert "(8 天内到期)" in cert_client.get("/devices/kiosk-soon").text
    assert "(已过期)" in cert_client.get("/devices/kiosk-gone").text
    far = cert_client.get("/devices/station-far").text
    assert "天内到期" not in far and "已过期" not in far and "cert-warn" not in far


def test_metrics_count_expiring_and_expired(cert_client: TestClient) -> None:
    assert "\nmch_hub_devices_cert_expiring 3\n" in cert_client.get("/metrics").text

