"""BrokerProcess and the `mch-broker` CLI against the real mosquitto."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mch_link.topics import Kind, topic
from mqtt_broker_config import render
from mqtt_broker_config.errors import BrokerError, BrokerStartError
from mqtt_broker_config.launcher import BrokerProcess, free_port
from provisioning.site import Site
from tests.mqtt_broker_config.probe import ACCEPTED, QUIET_S, connect, tls_outcome
from tests.support.broker import broker_site, device_tls, hub_tls

pytestmark = pytest.mark.integration

CLI = shutil.which("mch-broker") or str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "mch-broker")
TIMEOUT_S = 15.0
QUEUED = 3


@pytest.fixture
def run_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="mch-broker-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def wait_accepts(host: str, port: int, timeout_s: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing accepts on {host}:{port}") from None
            time.sleep(0.05)


def test_hub_session_survives_a_restart(broker: BrokerProcess, site: Site, enroll_device) -> None:
    hub = connect(broker, hub_tls(site.path), "hub", clean_start=False)
    assert hub.subscribe("$share/hub/mch/v1/+/+").value == 1
    hub.close()
    dev = connect(broker, device_tls(enroll_device("station-01", "station")), "station-01")
    for i in range(QUEUED):
        assert dev.publish(topic("station-01", Kind.CTG), f"batch-{i}".encode()).value == 0
    dev.close()
    broker.restart()
    assert "Saving in-memory database" in broker.log_text()
    db = broker.run_dir / render.DATA_DIR / "mosquitto.db"
    assert db.stat().st_uid == broker.user.uid and db.stat().st_size > 0
    hub = connect(broker, hub_tls(site.path), "hub", clean_start=False)
    assert hub.session_present
    assert [p for _, p in hub.wait_messages(QUEUED)] == [f"batch-{i}".encode() for i in range(QUEUED)]
    hub.close()


def test_kill_then_start_again(broker: BrokerProcess, site: Site) -> None:
    pid = broker.pid
    broker.kill()
    assert not broker.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid or -1, 0)
    broker.start()
    connect(broker, hub_tls(site.path), "hub").close()


def test_start_errors_are_clear(broker: BrokerProcess, site: Site, run_dir: Path) -> None:
    with pytest.raises(BrokerError, match="already running"):
        broker.start()
    clash = BrokerProcess(broker_site(site.path), run_dir, broker.port)
    with pytest.raises(BrokerStartError, match="exited with status"):
        clash.start()
    assert not clash.running
    with pytest.raises(BrokerError, match="not running"):
        clash.reload()


def test_run_dir_belongs_to_the_broker_user(broker: BrokerProcess) -> None:
    key = broker.run_dir / render.TLS_DIR / "broker.key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    for path in (broker.run_dir, key, broker.log_path, broker.run_dir / render.DATA_DIR):
        assert path.stat().st_uid == broker.user.uid, path
    assert broker.config_path.read_text().count("listener ") == 1
    assert "mosquitto version 2.0.11 running" in broker.log_text()


def test_cli_render(site: Site, run_dir: Path) -> None:
    conf = subprocess.run([CLI, "render", "--site", str(broker_site(site.path)), "--port", "18883", "--run-dir", str(run_dir)],
                          capture_output=True, text=True, timeout=TIMEOUT_S, check=True).stdout
    assert "listener 18883 127.0.0.1" in conf and "use_identity_as_username true" in conf
    acl = subprocess.run([CLI, "render", "--site", str(broker_site(site.path)), "--acl"], capture_output=True, text=True,
                         timeout=TIMEOUT_S, check=True).stdout
    assert "pattern write mch/v1/%u/rec" in acl
    helped = subprocess.run([CLI, "--help"], capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    assert helped.returncode == 0 and "run" in helped.stdout and "reload" in helped.stdout
    bad = subprocess.run([CLI, "render", "--site", str(run_dir), "--port", "18883"], capture_output=True,
                         text=True, timeout=TIMEOUT_S, check=False)
    assert bad.returncode == 1 and "mch-broker: error:" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_run_in_foreground_reload_and_stop(site: Site, enroll_device, run_dir: Path) -> None:
    tls = device_tls(enroll_device("kiosk-001", "kiosk"))
    port = free_port()
    proc = subprocess.Popen([CLI, "run", "--site", str(broker_site(site.path)), "--port", str(port), "--run-dir", str(run_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_accepts("127.0.0.1", port)
        view = BrokerProcess(broker_site(site.path), run_dir, port)  # only to probe and read the log
        assert tls_outcome(view, tls) == ACCEPTED
        site.revoke("kiosk-001")
        # `mch-broker reload` copies the new CRL and SIGHUPs the mosquitto recorded in the run dir
        reload = subprocess.run([CLI, "reload", "--site", str(broker_site(site.path)), "--run-dir", str(run_dir)],
                                capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
        assert reload.returncode == 0, reload.stderr
        deadline = time.monotonic() + TIMEOUT_S
        while tls_outcome(view, tls) == ACCEPTED and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tls_outcome(view, tls) == "SSLV3_ALERT_CERTIFICATE_REVOKED"
        # SIGHUP to the foreground process does the same
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + TIMEOUT_S
        while view.log_text().count("Reloading config") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert view.log_text().count("Reloading config") == 2
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=TIMEOUT_S) == 0
        assert "terminating" in view.log_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT_S)


def test_queue_limit_is_applied_and_drops_are_logged(site: Site, enroll_device, run_dir: Path) -> None:
    """What max_queued_messages means: past it the broker drops QoS 1 messages for an offline
    session while the publisher still gets PUBACK success. (The device outbox is what saves us.)"""
    limit, sent = 5, 12
    proc = BrokerProcess(broker_site(site.path), run_dir, free_port(), settings=render.BrokerSettings(max_queued_messages=limit))
    proc.start()
    try:
        hub = connect(proc, hub_tls(site.path), "hub", clean_start=False)
        assert hub.subscribe("mch/v1/+/+").value == 1
        hub.close()
        dev = connect(proc, device_tls(enroll_device("kiosk-001", "kiosk")), "kiosk-001")
        for i in range(sent):
            assert not dev.publish(topic("kiosk-001", Kind.RECORDS), str(i).encode()).is_failure
        dev.close()
        hub = connect(proc, hub_tls(site.path), "hub", clean_start=False)
        got = hub.wait_messages(limit)
        time.sleep(QUIET_S)
        assert len(hub.messages) == limit and got[0][1] == b"0"
        assert "Outgoing messages are being dropped for client hub" in proc.log_text()
        hub.close()
    finally:
        proc.stop()
