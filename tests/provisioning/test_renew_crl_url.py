"""Issue 10 leftover: a CRL Distribution Point in the certificates provisioning issues, and an
Issuing Distribution Point in the CRL, so a clustered broker (EMQX) can fetch the CRL itself.
The URL is served here by a real HTTP server on loopback from the broker's view."""

from __future__ import annotations

import functools
import http.server
import threading
import urllib.request
from collections.abc import Iterator

import pytest
from cryptography import x509

from mch_link.sitefiles import broker_view
from provisioning import pki
from provisioning.devsite import DEV_PASSPHRASE
from provisioning.site import Site
from tests.provisioning.test_cli import EXIT_ERROR, EXIT_OK, run

PASS = DEV_PASSPHRASE.decode()


@pytest.fixture
def crl_server(site: Site) -> Iterator[str]:
    """An HTTP server on loopback serving <site>/deploy/broker/ca (as a site's web server would)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(broker_view(site.path) / "ca"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/crl.der"
    server.shutdown()
    server.server_close()


def _points(cert: x509.Certificate) -> list[str]:
    ext = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    return [name.value for point in ext for name in (point.full_name or [])]


def test_certificates_name_the_crl_url_and_the_crl_is_fetched_from_it(site: Site, crl_server: str) -> None:
    before = site.enroll("kiosk-081", "kiosk").bundle
    no_point = x509.load_pem_x509_certificate((before / "device.crt.pem").read_bytes())
    with pytest.raises(x509.ExtensionNotFound):
        no_point.extensions.get_extension_for_class(x509.CRLDistributionPoints)

    done = run("crl-url", "--site", site.path, crl_server, env_passphrase=PASS)
    assert done.returncode == EXIT_OK, done.stderr
    assert run("enroll", "--site", site.path, "kiosk-082", "--kind", "kiosk", "--bundle", site.path.parent / "b82",
               env_passphrase=PASS).returncode == EXIT_OK
    cert = x509.load_pem_x509_certificate((site.path.parent / "b82" / "device.crt.pem").read_bytes())
    assert _points(cert) == [crl_server]
    assert run("revoke", "--site", site.path, "kiosk-082", "--yes", env_passphrase=PASS).returncode == EXIT_OK

    with urllib.request.urlopen(crl_server, timeout=10) as answer:  # what EMQX does with the certificate's URL
        crl = x509.load_der_x509_crl(answer.read())
    issuing = x509.load_pem_x509_certificate((site.path / "ca" / "issuing.crt.pem").read_bytes())
    assert crl.is_signature_valid(issuing.public_key())  # type: ignore[arg-type]
    assert cert.serial_number in pki.crl_entries(crl)
    idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    assert idp.critical and [n.value for n in idp.value.full_name or []] == [crl_server]


def test_bad_urls_are_refused_and_clear_removes_the_point(site: Site, crl_server: str) -> None:
    for bad in ("https://x/crl", "ftp://x/crl", "http://x/crl\npattern readwrite #", "http:///crl", "x"):
        refused = run("crl-url", "--site", site.path, bad, env_passphrase=PASS)
        assert refused.returncode == EXIT_ERROR and "http://HOST" in refused.stderr, bad
    assert not (site.path / pki.CRL_URL_FILE).exists()
    assert run("crl-url", "--site", site.path, crl_server, env_passphrase=PASS).returncode == EXIT_OK
    assert run("crl-url", "--site", site.path, "--clear", env_passphrase=PASS).returncode == EXIT_OK
    assert not (broker_view(site.path) / "ca" / "crl.der").exists()  # served only while a URL is set
    crl = site.crl()
    with pytest.raises(x509.ExtensionNotFound):
        crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    assert run("crl-url", "--site", site.path, env_passphrase=PASS).returncode == EXIT_ERROR
