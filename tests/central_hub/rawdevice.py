"""A device on the real broker without the outbox: publishes exactly what the test seals, once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from mch_link import envelope
from mch_link.envelope import Message
from mch_link.keys import KEYS_FILE, LinkKeys
from mch_link.topics import Kind, topic
from tests.support.broker import device_tls

CONNECT_TIMEOUT_S = 10.0


class RawDevice:
    def __init__(self, bundle: Path, host: str, port: int) -> None:
        self.keys = LinkKeys.read(bundle / KEYS_FILE)
        self.device_id = self.keys.device_id
        self.downlink: list[Message] = []
        self._connected = threading.Event()
        self._lock = threading.Lock()
        tls = device_tls(bundle)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.device_id, protocol=mqtt.MQTTv5)
        self.client.tls_set(ca_certs=str(tls.ca), certfile=str(tls.cert), keyfile=str(tls.key))
        self.client.max_inflight_messages_set(50)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(CONNECT_TIMEOUT_S):
            self.close()
            raise AssertionError(f"{self.device_id}: no CONNACK from {host}:{port}")

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, rc: object, props: object) -> None:
        client.subscribe([(topic(self.device_id, Kind.ACK), 1), (topic(self.device_id, Kind.CMD), 1)])
        self._connected.set()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        opened = envelope.open_envelope(bytes(msg.payload), self.keys.downlink, msg.topic)
        with self._lock:
            self.downlink.append(opened)

    def publish(self, where: str, payload: bytes) -> mqtt.MQTTMessageInfo:
        return self.client.publish(where, payload, qos=1)

    def acked_ids(self) -> set[int]:
        with self._lock:
            return {i for m in self.downlink if m.schema == "ack/1" for r in m.records for i in r.body["ok"]}

    def held_ids(self) -> set[int]:
        with self._lock:
            return {i for m in self.downlink if m.schema == "ack/1" for r in m.records for i in r.body["held"]}

    def commands(self) -> list[dict[str, object]]:
        with self._lock:
            return [r.body for m in self.downlink if m.schema == "cmd/1" for r in m.records]

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
