"""Bad envelopes sent by an enrolled device through the real broker land in quarantine with
their reason, are never stored, and never acknowledged; good ones around them are stored."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from mch_link import envelope
from mch_link.envelope import Record
from mch_link.keys import DirectionKey, LinkKeys
from mch_link.topics import Kind, topic
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.site import Site
from tests.support.hub import HubFactory, wait_for_records

pytestmark = pytest.mark.integration

BODY = {"seq": 1, "fhr_bpm": [140, 141], "toco": [10, 11]}


def _publisher(bundle: Path, broker: BrokerProcess) -> tuple[mqtt.Client, list[bytes]]:
    """A raw MQTT client with the device's certificate; it records the acks the hub sends it."""
    acks: list[bytes] = []
    subscribed = threading.Event()
    keys = LinkKeys.read(bundle / "link-keys.json")
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=keys.device_id, protocol=mqtt.MQTTv5)
    c.tls_set(ca_certs=str(bundle / "ca.pem"), certfile=str(bundle / "device.crt.pem"),
              keyfile=str(bundle / "device.key.pem"))
    c.on_message = lambda client, userdata, msg: acks.append(bytes(msg.payload))
    c.on_subscribe = lambda *args: subscribed.set()
    c.connect(broker.host, broker.port)
    c.loop_start()
    c.subscribe(topic(keys.device_id, Kind.ACK), qos=1)
    assert subscribed.wait(10)
    return c, acks


def test_bad_envelopes_are_quarantined_with_their_reason(site: Site, enroll_device, broker: BrokerProcess,
                                                         hub_factory: HubFactory) -> None:
    a_bundle, b_bundle = enroll_device("sim-101"), enroll_device("sim-102")
    a, b = LinkKeys.read(a_bundle / "link-keys.json"), LinkKeys.read(b_bundle / "link-keys.json")
    hub = hub_factory(site.path, extra_args=("--broker", f"{broker.host}:{broker.port}"))
    client, acks = _publisher(a_bundle, broker)
    t = topic("sim-101", Kind.CTG)

    def sealed(msg_id: int, counter: int, key: DirectionKey = a.uplink, kid: str = "sim-101") -> bytes:
        return envelope.seal(key, kid, t, counter, "sim/1", [Record(msg_id, BODY, 0)])

    good = sealed(1, 1)
    tampered = bytearray(sealed(2, 2))
    tampered[-3] ^= 0x40
    sends = [
        good,
        sealed(3, 3, key=DirectionKey.generate()),  # forged: not the device's key
        bytes(tampered),  # tampered in transit
        good,  # replayed: a captured envelope published again
        envelope.seal(b.uplink, "sim-102", t, 4, "sim/1", [Record(4, BODY, 0)]),  # speaks for sim-102
        sealed(5, 5),  # good again: the stream goes on
    ]
    for payload in sends:
        client.publish(t, payload, qos=1).wait_for_publish(10)
    try:
        assert wait_for_records(hub.db_url, 2, 20, "sim-101") == 2
        deadline = time.monotonic() + 20
        reasons: list[str] = []
        while time.monotonic() < deadline:
            store = hub.store()
            try:
                reasons = sorted(r.reason for r in store.quarantine_rows())
                ids = sorted(store.record_ids("sim-101"))
            finally:
                store.close()
            if len(reasons) >= 4:
                break
            time.sleep(0.1)
    finally:
        client.loop_stop()
        client.disconnect()
    assert ids == [1, 5]
    assert reasons == ["auth-failed", "auth-failed", "kid-mismatch", "replay"]
    acked: set[int] = set()
    for raw in acks:
        for rec in envelope.open_envelope(raw, a.downlink, topic("sim-101", Kind.ACK)).records:
            acked.update(rec.body["ok"])
    assert acked == {1, 5}
