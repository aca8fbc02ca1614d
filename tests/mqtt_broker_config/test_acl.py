"""What an admitted client may do: devices only under their own subtree, hubs as listed."""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mch_link.topics import DOWNLINK_KINDS, UPLINK_KINDS, Kind, topic
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.site import Site
from tests.mqtt_broker_config.probe import ACCEPTED, NOT_AUTHORIZED, QUIET_S, Probe, connect, tls_outcome
from tests.support.broker import TlsFiles, device_tls, hub_tls

pytestmark = pytest.mark.integration

MOSQUITTO_PUB = "/usr/bin/mosquitto_pub"
MOSQUITTO_SUB = "/usr/bin/mosquitto_sub"
CLI_TIMEOUT_S = 10.0
LINE_TIMEOUT_S = 5.0
WARMUP_INTERVAL_S = 0.1
SUCCESS = 0x00
SHARED_MESSAGES = 10


@pytest.fixture
def two_devices(site: Site, enroll_device) -> tuple[TlsFiles, TlsFiles]:
    return device_tls(enroll_device("kiosk-001", "kiosk")), device_tls(enroll_device("kiosk-002", "kiosk"))


@pytest.fixture
def hub(broker: BrokerProcess, site: Site) -> Iterator[Probe]:
    probe = connect(broker, hub_tls(site.path), "hub")
    assert probe.subscribe("mch/v1/+/+").value == 1  # granted QoS 1
    yield probe
    probe.close()


def quiet(probe: Probe) -> list[tuple[str, bytes]]:
    time.sleep(QUIET_S)
    return list(probe.messages)


# --- paho-mqtt 2.2, MQTT 5 ----------------------------------------------------------------


def test_device_publishes_on_its_own_uplink_topics(broker: BrokerProcess, two_devices, hub: Probe) -> None:
    a = connect(broker, two_devices[0], "kiosk-001")
    for kind in sorted(UPLINK_KINDS):
        assert a.publish(topic("kiosk-001", kind), kind.value.encode()).value == SUCCESS
    got = hub.wait_messages(len(UPLINK_KINDS))
    assert sorted(got) == sorted((topic("kiosk-001", k), k.value.encode()) for k in UPLINK_KINDS)
    a.close()


def test_device_cannot_publish_on_another_devices_topics(broker: BrokerProcess, two_devices, hub: Probe) -> None:
    a = connect(broker, two_devices[0], "kiosk-001")
    for kind in Kind:
        rc = a.publish(topic("kiosk-002", kind), b"forged")
        assert rc.value == NOT_AUTHORIZED, f"{kind}: {rc}"
    # the device may not write its own downlink either (no forged acks or commands)
    for kind in sorted(DOWNLINK_KINDS):
        assert a.publish(topic("kiosk-001", kind), b"forged").value == NOT_AUTHORIZED
    assert a.publish("mch/v1/hub/rec", b"forged").value == NOT_AUTHORIZED
    assert a.publish("other/namespace", b"forged").value == NOT_AUTHORIZED
    assert quiet(hub) == []
    a.close()


def test_device_cannot_read_another_devices_ack(broker: BrokerProcess, two_devices, site: Site) -> None:
    a = connect(broker, two_devices[0], "kiosk-001")
    b = connect(broker, two_devices[1], "kiosk-002")
    # mosquitto 2.0.11 grants every SUBSCRIBE filter and checks `read` per delivered message
    assert not a.subscribe(topic("kiosk-002", Kind.ACK)).is_failure
    assert not a.subscribe("mch/v1/+/ack").is_failure
    assert not a.subscribe("mch/v1/kiosk-002/#").is_failure
    assert not b.subscribe(topic("kiosk-002", Kind.ACK)).is_failure
    hub_probe = connect(broker, hub_tls(site.path), "hub")
    assert hub_probe.publish(topic("kiosk-002", Kind.ACK), b"ack-for-b").value == SUCCESS
    assert b.wait_messages(1) == [(topic("kiosk-002", Kind.ACK), b"ack-for-b")]
    assert quiet(a) == []
    # kiosk-001 gets its own ack through the same wildcard subscription
    assert hub_probe.publish(topic("kiosk-001", Kind.ACK), b"ack-for-a").value == SUCCESS
    assert a.wait_messages(1) == [(topic("kiosk-001", Kind.ACK), b"ack-for-a")]
    for p in (a, b, hub_probe):
        p.close()


def test_device_cannot_read_another_devices_uplink(broker: BrokerProcess, two_devices) -> None:
    a = connect(broker, two_devices[0], "kiosk-001")
    b = connect(broker, two_devices[1], "kiosk-002")
    assert not a.subscribe("mch/v1/+/+").is_failure
    # PUBACK 0x00: kiosk-001's filter matches; the read check happens when delivering, and fails
    assert b.publish(topic("kiosk-002", Kind.RECORDS), b"private").value == SUCCESS
    assert quiet(a) == []
    a.close()
    b.close()


def test_hub_reads_every_device_and_writes_acks_and_commands(broker: BrokerProcess, two_devices,
                                                             hub: Probe) -> None:
    devices = {"kiosk-001": connect(broker, two_devices[0], "kiosk-001"),
               "kiosk-002": connect(broker, two_devices[1], "kiosk-002")}
    for device_id, probe in devices.items():
        for kind in sorted(UPLINK_KINDS):
            assert probe.publish(topic(device_id, kind), device_id.encode()).value == SUCCESS
    assert len(hub.wait_messages(2 * len(UPLINK_KINDS))) == 2 * len(UPLINK_KINDS)
    for device_id, probe in devices.items():
        assert probe.subscribe(f"mch/v1/{device_id}/+").value == 1
        for kind in sorted(DOWNLINK_KINDS):
            assert hub.publish(topic(device_id, kind), b"from-hub").value == SUCCESS
        assert sorted(probe.wait_messages(len(DOWNLINK_KINDS))) == sorted(
            (topic(device_id, k), b"from-hub") for k in DOWNLINK_KINDS)
    # least privilege: the hub does not speak for a device
    assert hub.publish(topic("kiosk-001", Kind.RECORDS), b"x").value == NOT_AUTHORIZED
    for probe in devices.values():
        probe.close()


def test_hub_workers_share_the_load(broker: BrokerProcess, two_devices, site: Site) -> None:
    site.issue_hub_identity("hub-1")
    broker.reload()  # re-renders the ACL with hub-1's rights
    workers = [connect(broker, hub_tls(site.path, h), h) for h in ("hub", "hub-1")]
    for w in workers:
        assert w.subscribe("$share/hub/mch/v1/+/+").value == 1
    a = connect(broker, two_devices[0], "kiosk-001")
    for i in range(SHARED_MESSAGES):
        assert a.publish(topic("kiosk-001", Kind.RECORDS), str(i).encode()).value == SUCCESS
    deadline = time.monotonic() + LINE_TIMEOUT_S
    while sum(len(w.messages) for w in workers) < SHARED_MESSAGES and time.monotonic() < deadline:
        time.sleep(0.01)
    counts = [len(w.messages) for w in workers]
    assert sum(counts) == SHARED_MESSAGES and all(c > 0 for c in counts), counts
    for p in (*workers, a):
        p.close()


def test_device_cannot_take_over_another_session(broker: BrokerProcess, two_devices) -> None:
    b = connect(broker, two_devices[1], "kiosk-002", clean_start=False)
    # kiosk-001's certificate asking for kiosk-002's client id gets its own CN as client id
    a = connect(broker, two_devices[0], "kiosk-002")
    assert not b.disconnected.wait(QUIET_S), "kiosk-002 was kicked by kiosk-001's certificate"
    assert "as kiosk-001 (p5" in broker.log_text()
    # and it is kiosk-001's session that a second kiosk-001 connection takes over
    a2 = connect(broker, two_devices[0], "anything-else")
    assert a.disconnected.wait(LINE_TIMEOUT_S)
    assert not b.disconnected.is_set()
    for p in (a, a2, b):
        p.close()


# --- mosquitto_pub / mosquitto_sub, MQTT 5 -----------------------------------------------


class CliSubscriber:
    """mosquitto_sub -v in the background; lines arrive on a queue."""

    def __init__(self, broker: BrokerProcess, tls: TlsFiles, topic_filter: str) -> None:
        self.proc = subprocess.Popen(
            [MOSQUITTO_SUB, "-V", "mqttv5", "-h", broker.host, "-p", str(broker.port), "-q", "1", "-v",
             "-t", topic_filter, *tls.cli_args()], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            bufsize=1)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def next_line(self, timeout_s: float = LINE_TIMEOUT_S) -> str:
        return self.lines.get(timeout=timeout_s)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=CLI_TIMEOUT_S)


def cli_pub(broker: BrokerProcess, tls: TlsFiles, topic_name: str, message: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MOSQUITTO_PUB, "-V", "mqttv5", "-h", broker.host, "-p", str(broker.port), "-q", "1",
                           "-t", topic_name, "-m", message, *tls.cli_args()], capture_output=True, text=True,
                          timeout=CLI_TIMEOUT_S, check=False)


def wait_until_live(sub: CliSubscriber, broker: BrokerProcess, tls: TlsFiles, topic_name: str) -> None:
    """Publish warm-up messages until the subscriber shows one (it has subscribed), drain them."""
    deadline = time.monotonic() + LINE_TIMEOUT_S
    while time.monotonic() < deadline:
        assert cli_pub(broker, tls, topic_name, "warmup").returncode == 0
        try:
            sub.next_line(WARMUP_INTERVAL_S)
            break
        except queue.Empty:
            continue
    else:
        raise TimeoutError("mosquitto_sub never received a warm-up message")
    time.sleep(QUIET_S)
    while not sub.lines.empty():
        sub.lines.get_nowait()


def test_cli_clients_device_cannot_publish_for_another(broker: BrokerProcess, two_devices, site: Site,
                                                       tmp_path: Path) -> None:
    a_tls = two_devices[0]
    sub = CliSubscriber(broker, hub_tls(site.path), "mch/v1/+/+")
    try:
        wait_until_live(sub, broker, a_tls, topic("kiosk-001", Kind.STATE))
        forged = cli_pub(broker, a_tls, topic("kiosk-002", Kind.RECORDS), "forged")
        assert "Not authorized" in forged.stderr
        marker = cli_pub(broker, a_tls, topic("kiosk-001", Kind.RECORDS), "marker")
        assert marker.returncode == 0 and "failed" not in marker.stderr
        # sent after the forged one: if the forged message had been delivered, it would come first
        assert sub.next_line() == f"{topic('kiosk-001', Kind.RECORDS)} marker"
    finally:
        sub.close()


def test_cli_clients_device_cannot_read_another_devices_ack(broker: BrokerProcess, two_devices,
                                                            site: Site) -> None:
    a_sub = CliSubscriber(broker, two_devices[0], "mch/v1/+/ack")
    try:
        hub_files = hub_tls(site.path)
        wait_until_live(a_sub, broker, hub_files, topic("kiosk-001", Kind.ACK))
        assert cli_pub(broker, hub_files, topic("kiosk-002", Kind.ACK), "for-b").returncode == 0
        assert cli_pub(broker, hub_files, topic("kiosk-001", Kind.ACK), "for-a").returncode == 0
        assert a_sub.next_line() == f"{topic('kiosk-001', Kind.ACK)} for-a"
    finally:
        a_sub.close()


def test_revoked_hub_identity_loses_access(broker: BrokerProcess, site: Site) -> None:
    site.issue_hub_identity("hub-1")
    broker.reload()
    hub1 = hub_tls(site.path, "hub-1")
    assert tls_outcome(broker, hub1) == ACCEPTED
    site.revoke_hub_identity("hub-1")
    broker.reload()
    assert tls_outcome(broker, hub1) == "SSLV3_ALERT_CERTIFICATE_REVOKED"
    assert "user hub-1" not in (broker.run_dir / "acl").read_text()
    assert tls_outcome(broker, hub_tls(site.path, "hub")) == ACCEPTED
