"""Who the broker lets in: only certificates of the site CA, not revoked, with a current CRL."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from mqtt_broker_config.launcher import BrokerProcess
from provisioning.devsite import make_dev_site
from provisioning.pki import now_utc
from provisioning.site import Site
from tests.mqtt_broker_config.probe import ACCEPTED, QUIET_S, connect, tls_outcome
from tests.support.broker import TlsFiles, device_tls, hub_tls, start_broker

pytestmark = pytest.mark.integration

MOSQUITTO_PUB = "/usr/bin/mosquitto_pub"
CLI_TIMEOUT_S = 10
START_BUDGET_S = 1.0
START_SAMPLES = 5


def pub_cli(broker: BrokerProcess, tls_args: list[str], topic: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MOSQUITTO_PUB, "-V", "mqttv5", "-h", broker.host, "-p", str(broker.port), "-q", "1",
                           "-t", topic, "-m", "x", *tls_args], capture_output=True, text=True,
                          timeout=CLI_TIMEOUT_S, check=False)


def test_enrolled_device_and_hub_connect(broker: BrokerProcess, enroll_device, site: Site) -> None:
    tls = device_tls(enroll_device("kiosk-001", "kiosk"))
    assert tls_outcome(broker, tls) == ACCEPTED
    dev = connect(broker, tls, "kiosk-001")
    hub = connect(broker, hub_tls(site.path), "hub")
    assert dev.connack is not None and dev.connack.value == 0
    assert hub.connack is not None and hub.connack.value == 0
    dev.close()
    hub.close()


def test_no_client_certificate_refused(broker: BrokerProcess, site: Site) -> None:
    no_cert = TlsFiles(site.chain_path, Path(), Path())
    assert tls_outcome(broker, no_cert, present_cert=False) == "TLSV13_ALERT_CERTIFICATE_REQUIRED"
    with pytest.raises(ConnectionRefusedError):
        connect(broker, no_cert, "kiosk-001", present_cert=False)
    result = pub_cli(broker, ["--cafile", str(site.chain_path)], "mch/v1/kiosk-001/rec")
    assert result.returncode != 0
    assert "peer did not return a certificate" in broker.log_text()


def test_certificate_from_another_ca_refused(broker: BrokerProcess, site: Site, tmp_path: Path) -> None:
    # same CN as a real device, issued by a CA the broker does not trust
    other = make_dev_site(tmp_path / "other-site", ["kiosk-001"])
    site.enroll("kiosk-001", "kiosk")
    forged = device_tls(other.default_bundle_dir("kiosk-001"))
    tls = TlsFiles(site.chain_path, forged.cert, forged.key)
    assert tls_outcome(broker, tls) != ACCEPTED
    with pytest.raises(ConnectionRefusedError):
        connect(broker, tls, "kiosk-001")
    assert pub_cli(broker, tls.cli_args(), "mch/v1/kiosk-001/rec").returncode != 0
    assert "certificate verify failed" in broker.log_text()


def test_revoked_certificate_refused_after_reload(broker: BrokerProcess, site: Site, enroll_device) -> None:
    tls = device_tls(enroll_device("station-01", "station"))
    site.revoke("station-01")
    broker.reload()
    assert tls_outcome(broker, tls) == "SSLV3_ALERT_CERTIFICATE_REVOKED"
    with pytest.raises(ConnectionRefusedError):
        connect(broker, tls, "station-01")
    assert pub_cli(broker, tls.cli_args(), "mch/v1/station-01/rec").returncode != 0


def test_revocation_disconnects_a_connected_device(broker: BrokerProcess, site: Site, enroll_device) -> None:
    """Scenario 7: mosquitto 2.0.11 re-reads the CRL on SIGHUP but keeps an open session up;
    before mch_guard the revoked device went on publishing (PUBACK 0x00) until a restart."""
    tls = device_tls(enroll_device("station-01", "station"))
    hub = connect(broker, hub_tls(site.path), "hub")
    assert hub.subscribe("mch/v1/+/+").value == 1
    still_connected = connect(broker, tls, "station-01")
    assert not still_connected.publish("mch/v1/station-01/rec", b"before").is_failure
    assert hub.wait_messages(1) == [("mch/v1/station-01/rec", b"before")]
    site.revoke("station-01")
    broker.reload()
    assert still_connected.disconnected.wait(5), "the revoked device is still connected after the reload"
    # the client is gone: a publish is not sent, and nothing more reaches the hub
    info = still_connected.client.publish("mch/v1/station-01/rec", b"after", qos=1)
    assert info.rc == mqtt.MQTT_ERR_NO_CONN
    time.sleep(QUIET_S)
    assert [m for m in hub.messages if m[1] == b"after"] == []
    still_connected.client.loop_stop()
    with pytest.raises(ConnectionRefusedError):
        connect(broker, tls, "station-01")
    assert "mch_guard: policy reloaded" in broker.log_text()
    hub.close()


def test_other_devices_unaffected_by_a_revocation(broker: BrokerProcess, site: Site, enroll_device) -> None:
    revoked = device_tls(enroll_device("kiosk-001", "kiosk"))
    fine = device_tls(enroll_device("kiosk-002", "kiosk"))
    site.revoke("kiosk-001")
    broker.reload()
    assert tls_outcome(broker, revoked) == "SSLV3_ALERT_CERTIFICATE_REVOKED"
    assert tls_outcome(broker, fine) == ACCEPTED
    connect(broker, fine, "kiosk-002").close()


def test_expired_crl_refuses_everyone_until_renew_crl(broker: BrokerProcess, site: Site, enroll_device) -> None:
    tls = device_tls(enroll_device("kiosk-001", "kiosk"))
    site.renew_crl(now=now_utc() - timedelta(days=2), validity=timedelta(days=1))
    assert site.crl_next_update() < now_utc()
    broker.reload()
    # the device certificate is valid: only the CRL has expired, and it locks everyone out
    assert tls_outcome(broker, tls) == "SSLV3_ALERT_CERTIFICATE_EXPIRED"
    assert tls_outcome(broker, hub_tls(site.path)) == "SSLV3_ALERT_CERTIFICATE_EXPIRED"
    with pytest.raises(ConnectionRefusedError):
        connect(broker, tls, "kiosk-001")
    next_update = site.renew_crl()
    assert next_update > now_utc() + timedelta(days=29)
    broker.reload()
    assert tls_outcome(broker, tls) == ACCEPTED
    connect(broker, tls, "kiosk-001").close()


def test_broker_starts_in_under_a_second(site: Site) -> None:
    """Median of a few starts (render, copy TLS files, spawn, TLS port accepting): the shared
    2-core machine has load spikes, a single sample would make this test flaky."""
    durations = []
    for _ in range(START_SAMPLES):
        started = time.monotonic()
        proc = start_broker(site.path)
        durations.append(time.monotonic() - started)
        proc.stop()
        shutil.rmtree(proc.run_dir, ignore_errors=True)
    assert statistics.median(durations) < START_BUDGET_S, [f"{d:.3f}" for d in durations]
