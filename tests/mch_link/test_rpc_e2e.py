"""Request/response through the real Mosquitto (project config and ACL) and the real hub.

What is proved: an answer within a second; a timeout at the kiosk when the hub is down; a
retried request answered from the idempotency record (one patient, one outpatient number);
a forged, moved or replayed request is never answered; a response replayed to the device is
refused.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mch_link import rpc
from mch_link.device import DeviceLink
from mch_link.keys import KEYS_FILE, LinkKeys
from mch_link.topics import Kind, topic
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.site import Site
from tests.support.broker import device_tls
from tests.support.hub import HubFactory

pytestmark = pytest.mark.integration

DEVICE = "kiosk-001"
SYNTHETIC = {"id_number": "11010519491231002X", "name": "测试孕妇", "sex": "2", "birth_date": "1949-12-31"}


def _client(bundle: Path, broker: BrokerProcess, tmp_path: Path) -> tuple[DeviceLink, rpc.RpcClient]:
    link = DeviceLink.from_bundle(bundle, tmp_path / "outbox.db", broker=(broker.host, broker.port))
    client = rpc.RpcClient(link, DEVICE, LinkKeys.read(bundle / KEYS_FILE))
    link.start()
    deadline = time.monotonic() + 10
    while not link.stats.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert link.stats.connected
    time.sleep(0.2)  # the rsp subscription is sent right after CONNACK
    return link, client


class Sniffer:
    """A second connection with the device's own certificate would take over its session, so the
    raw request is captured by wrapping the link's publish."""

    def __init__(self, link: DeviceLink) -> None:
        self.sent: list[tuple[bytes, bytes]] = []
        inner = link.publish_request

        def spy(payload: bytes, correlation: bytes) -> bool:
            self.sent.append((payload, correlation))
            return inner(payload, correlation)

        link.publish_request = spy  # type: ignore[method-assign]


def _publish_raw(link: DeviceLink, where: str, payload: bytes, correlation: bytes, response_topic: str) -> None:
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = response_topic
    props.CorrelationData = correlation
    assert link._client is not None
    link._client.publish(where, payload, qos=1, properties=props).wait_for_publish(5)


@pytest.fixture
def running(site: Site, enroll_device, broker: BrokerProcess, hub_factory: HubFactory, tmp_path: Path):  # noqa: ANN001, ANN201
    bundle = enroll_device(DEVICE, "kiosk")
    hub = hub_factory(site.path, broker=broker)
    link, client = _client(bundle, broker, tmp_path)
    yield bundle, hub, link, client
    link.stop()


def test_answer_within_a_second_and_retry_answered_from_the_idempotency_record(running) -> None:  # noqa: ANN001
    _, hub, link, client = running
    started = time.monotonic()
    first = client.call("patient.register", SYNTHETIC, idempotency_key="k" * 32)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"answer took {elapsed:.3f} s"
    assert first["masked_id_number"] == "110105********002X" and first["outpatient_no"].startswith("66")
    again = client.call("patient.register", SYNTHETIC, idempotency_key="k" * 32)
    assert again == first
    found = client.call("patient.find", {"id_number": SYNTHETIC["id_number"]})
    assert found["patient_id"] == first["patient_id"]
    with pytest.raises(rpc.RpcRefused) as refused:
        client.call("patient.register", {**SYNTHETIC, "name": "别人"}, idempotency_key="k" * 32)
    assert refused.value.code == "idempotency-conflict"
    assert client.call("patient.find", {"outpatient_no": "MZ99999999"}) is None


def test_answers_stay_under_a_second_while_the_record_path_is_flooded(running, enroll_device,  # noqa: ANN001
                                                                        broker: BrokerProcess, tmp_path: Path) -> None:
    _, hub, link, client = running
    flooder = DeviceLink.from_bundle(enroll_device("sim-001"), tmp_path / "flood.db", broker=(broker.host, broker.port))
    body = {"seq": 0, "fhr_bpm": [140] * 16, "toco": [10] * 16, "note": "x" * 200}
    flooder.submit_many(Kind.CTG, "sim/1", [body] * 60_000)
    flooder.start()
    try:
        times = []
        time.sleep(0.3)  # the flood is under way
        while flooder.depth() > 0 and len(times) < 50:
            started = time.monotonic()
            client.call("patient.find", {"outpatient_no": "MZ00000001"})
            times.append(time.monotonic() - started)
            time.sleep(0.05)
    finally:
        flooder.stop()
    assert len(times) >= 10, f"only {len(times)} requests during the flood: the test proved too little"
    print(f"requests during the flood: {len(times)}, slowest {max(times) * 1000:.0f} ms")
    assert max(times) < 1.0, f"slowest answer {max(times):.3f} s during the flood"


def test_timeout_when_the_hub_is_down(running) -> None:  # noqa: ANN001
    _, hub, link, client = running
    hub.stop()
    started = time.monotonic()
    with pytest.raises(rpc.RpcTimeout):
        client.call("patient.find", {"outpatient_no": "MZ00000001"}, timeout_s=0.8)
    assert 0.75 < time.monotonic() - started < 1.5


def test_forged_moved_and_replayed_requests_are_never_answered(running) -> None:  # noqa: ANN001
    bundle, hub, link, client = running
    sniffer = Sniffer(link)
    assert client.call("patient.find", {"outpatient_no": "MZ00000001"}) is None
    payload, corr = sniffer.sent[-1]
    answers: list[bytes] = []
    got = threading.Event()

    def count(p: bytes, c: bytes | None) -> None:
        answers.append(p)
        got.set()

    inner = link.on_response
    link.on_response = count
    rsp_topic = topic(DEVICE, Kind.RESPONSE)
    _publish_raw(link, topic(DEVICE, Kind.REQUEST), payload, corr, rsp_topic)  # replay, byte for byte
    keys = LinkKeys.generate(DEVICE)  # a forger without the device's keys
    forged = rpc.seal_request(rpc.rpc_keys(keys).request, DEVICE, 10**6, "patient.find", corr,
                              {"outpatient_no": "MZ00000001"}, None, int(time.time() * 1000))
    _publish_raw(link, topic(DEVICE, Kind.REQUEST), forged, corr, rsp_topic)
    real = rpc.rpc_keys(LinkKeys.read(bundle / KEYS_FILE))
    fresh = rpc.seal_request(real.request, DEVICE, link.next_counter(), "patient.find", corr,
                             {"outpatient_no": "MZ00000001"}, None, int(time.time() * 1000))
    _publish_raw(link, topic(DEVICE, Kind.REQUEST), fresh, b"x" * 16, rsp_topic)  # correlation data swapped
    assert not got.wait(1.5), "the hub answered a replayed, forged or tampered request"
    link.on_response = inner
    _publish_raw(link, topic(DEVICE, Kind.REQUEST), rpc.seal_request(
        real.request, DEVICE, link.next_counter(), "patient.find", corr, {"outpatient_no": "MZ00000001"}, None,
        int(time.time() * 1000)), corr, rsp_topic)
    time.sleep(0.5)  # the control: a genuine one is answered (to no waiting call: refused at the device)
    assert client.refused_responses >= 1
    log = hub.log_text()
    assert "already used (replay)" in log  # the byte-for-byte replay
    assert "response topic or correlation data do not match" in log  # the swapped correlation data
    assert log.count("refused") >= 3  # and the forgery, which does not open


def test_a_replayed_response_is_refused_at_the_device(running) -> None:  # noqa: ANN001
    _, hub, link, client = running
    seen: list[tuple[bytes, bytes | None]] = []
    inner = link.on_response
    assert inner is not None

    def keep(p: bytes, c: bytes | None) -> None:
        seen.append((p, c))
        inner(p, c)

    link.on_response = keep
    client.call("patient.find", {"outpatient_no": "MZ00000001"})
    refused_before = client.refused_responses
    inner(*seen[-1])  # the same response again, while nothing waits for it
    assert client.refused_responses == refused_before + 1


def test_acl_keeps_requests_and_responses_in_the_devices_subtree(site: Site, enroll_device, broker: BrokerProcess,
                                                                 tmp_path: Path) -> None:
    """kiosk-002 cannot read kiosk-001's responses nor publish on its request topic."""
    enroll_device(DEVICE, "kiosk")
    other = enroll_device("kiosk-002", "kiosk")
    got: list[str] = []
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="kiosk-002", protocol=mqtt.MQTTv5)
    tls = device_tls(other)
    c.tls_set(ca_certs=str(tls.ca), certfile=str(tls.cert), keyfile=str(tls.key))
    c.on_message = lambda cl, u, m: got.append(m.topic)
    c.connect(broker.host, broker.port)
    c.loop_start()
    try:
        c.subscribe(topic(DEVICE, Kind.RESPONSE), 1)
        c.subscribe(topic(DEVICE, Kind.REQUEST), 1)
        time.sleep(0.3)
        info = c.publish(topic(DEVICE, Kind.REQUEST), json.dumps({}).encode(), qos=1)
        info.wait_for_publish(5)
        time.sleep(0.5)
    finally:
        c.loop_stop()
        c.disconnect()
    assert got == []
