"""`mch-provision doctor` on good and broken sites, with a hub /healthz on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509

from mch_link.sitefiles import broker_view
from mqtt_broker_config.launcher import free_port
from provisioning import pki
from provisioning.devsite import DEV_PASSPHRASE, make_dev_site
from provisioning.doctor import FAIL, OK, WARN, diagnose
from provisioning.site import Site
from tests.provisioning.test_cli import EXIT_ERROR, EXIT_OK, run


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b"ok 2 devices\n" if self.status == 200 else b"store unavailable: down\n"
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub_url() -> Iterator[tuple[str, type[_Health]]]:
    handler = type("Health", (_Health,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def _by_name(site: Path, url: str | None = None, now: datetime | None = None) -> dict[str, tuple[str, str, str]]:
    return {c.name: (c.status, c.detail, c.fix) for c in diagnose(site, url, now)}


def test_a_fresh_site_is_healthy_and_the_hub_answers(tmp_path: Path, hub_url: tuple[str, type[_Health]]) -> None:
    site = make_dev_site(tmp_path / "site", ["kiosk-001"]).path
    checks = _by_name(site, hub_url[0])
    assert {name: c[0] for name, c in checks.items()} == {
        "root CA": OK, "issuing CA": OK, "CRL": OK, "registry": OK, "journal": OK, "broker config": OK, "hub": OK}
    assert "ok 2 devices" in checks["hub"][1]
    assert _by_name(site)["hub"][0] == WARN  # not asked to check it
    result = run("doctor", "--site", site, "--hub-url", hub_url[0], "--json")
    assert result.returncode == EXIT_OK, result.stderr
    assert json.loads(result.stdout)["ok"] is True


def test_each_fault_is_named_with_its_fix(tmp_path: Path, hub_url: tuple[str, type[_Health]]) -> None:
    site_obj: Site = make_dev_site(tmp_path / "site", ["kiosk-001", "kiosk-002"])
    site = site_obj.path
    Site.open(site, DEV_PASSPHRASE).renew_crl(now=pki.now_utc() - timedelta(days=2), validity=timedelta(days=1))
    (site / "registry" / "kiosk-002.json").write_text("{ not json")
    (broker_view(site) / "broker" / "broker.crt.pem").unlink()  # an incomplete copy of the view
    hub_url[1].status = 503
    checks = _by_name(site, hub_url[0])
    assert checks["CRL"][0] == FAIL and "renew-crl" in checks["CRL"][2]
    assert checks["registry"][0] == FAIL and "kiosk-002.json" in checks["registry"][1]
    assert checks["broker config"][0] == FAIL and "broker.crt.pem" in checks["broker config"][1]
    assert checks["hub"][0] == FAIL and "HTTP 503" in checks["hub"][1]
    assert checks["root CA"][0] == OK
    closed = _by_name(site, f"http://127.0.0.1:{free_port()}")["hub"]
    assert closed[0] == FAIL and "mch-hub web running" in closed[2]

    (broker_view(site) / "broker" / "broker.crt.pem").write_bytes(site_obj.broker_cert_path.read_bytes())
    (broker_view(site) / "site.json").write_text("{}")  # the view is complete but broken: render says why
    assert _by_name(site)["broker config"][0] == FAIL

    result = run("doctor", "--site", site, "--hub-url", hub_url[0])
    assert result.returncode == EXIT_ERROR
    assert "4 check(s) failed: CRL, registry, broker config, hub" in result.stderr
    assert "renew-crl" in result.stdout


def test_crl_due_soon_is_a_warning(tmp_path: Path) -> None:
    site = make_dev_site(tmp_path / "site").path
    Site.open(site, DEV_PASSPHRASE).renew_crl(validity=timedelta(days=3))
    assert _by_name(site)["CRL"][0] == WARN


def test_not_a_site(tmp_path: Path) -> None:
    result = run("doctor", "--site", tmp_path)
    assert result.returncode == EXIT_ERROR and "is not a site" in result.stderr


def _not_after(site: Path, which: str) -> datetime:
    # read with cryptography directly, not through the code under test
    return x509.load_pem_x509_certificate((site / "ca" / f"{which}.crt.pem").read_bytes()).not_valid_after_utc


def test_ca_expiry_warns_within_90_days_then_fails(tmp_path: Path) -> None:
    site = make_dev_site(tmp_path / "site").path
    root, issuing = _not_after(site, "root"), _not_after(site, "issuing")
    assert issuing <= root  # the issuing CA runs out first; the times below are taken from each
    for name, expires in (("issuing CA", issuing), ("root CA", root)):
        status, detail, fix = _by_name(site, now=expires - timedelta(days=30))[name]
        assert (status, "(29 days)" in detail or "(30 days)" in detail) == (WARN, True), detail
        assert fix
        assert _by_name(site, now=expires - timedelta(days=91))[name][0] == OK
        status, detail, fix = _by_name(site, now=expires + timedelta(seconds=1))[name]
        assert status == FAIL and detail.startswith("expired ") and f"{expires:%Y-%m-%d}" in detail
    assert "re-issue the issuing CA" in _by_name(site, now=issuing)["issuing CA"][2]
    assert _by_name(site, now=issuing)["issuing CA"][0] == FAIL  # expiring this second is expired
