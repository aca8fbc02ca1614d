"""Publishes sealed `cmd/1` messages for the dashboard over its own mTLS MQTT connection.

It needs a hub identity of its own (`mch-provision hub-identity hub-<n>`): the broker takes the
client id from the certificate, and a second connection as `hub` would take over the worker's
session. Counters come from the same durable blocks as the workers' (central_hub.downlink).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from central_hub.directory import Directory
from central_hub.downlink import CHUNK_SCHEMA, Downlink, DownlinkCounters, DownlinkSealer
from central_hub.errors import HubError
from central_hub.store.base import Store
from mch_link import schemas
from mch_link.errors import SchemaError
from mch_link.registry import HubIdentity

log = logging.getLogger(__name__)

PUBLISH_WAIT_S = 5.0
CMD_SCHEMA = "cmd/1"


class CommandLink:
    def __init__(self, identity: HubIdentity, broker: tuple[str, int], directory: Directory, store: Store) -> None:
        self.broker = broker
        self._sealer = DownlinkSealer(directory, DownlinkCounters(store))
        self._connected = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=identity.hub_id, protocol=mqtt.MQTTv5)
        self._client.tls_set(ca_certs=str(identity.ca), certfile=str(identity.cert), keyfile=str(identity.key))
        self._client.reconnect_delay_set(1, 30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect

    def start(self) -> None:
        self._client.connect_async(*self.broker, keepalive=30)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def send(self, device_id: str, body: dict[str, Any]) -> None:
        self._send(CMD_SCHEMA, body, lambda: self._sealer.command(device_id, body), "command")

    def send_chunk(self, device_id: str, body: dict[str, Any]) -> None:
        """One fw-chunk/1 piece of an offered image (central_hub.firmware_channel); HubError if not taken."""
        self._send(CHUNK_SCHEMA, body, lambda: self._sealer.firmware_chunk(device_id, body), "firmware piece")

    def _send(self, schema: str, body: dict[str, Any], seal: Callable[[], Downlink], what: str) -> None:
        try:
            schemas.validate(schema, body)
        except SchemaError as exc:
            raise HubError(f"{what} refused before sending: {exc}") from None
        if not self._connected.is_set():
            raise HubError(f"not connected to the broker at {self.broker[0]}:{self.broker[1]}")
        self._publish(seal())

    def _publish(self, message: Downlink) -> None:
        info = self._client.publish(message.topic, message.payload, qos=1)
        try:
            info.wait_for_publish(PUBLISH_WAIT_S)
        except (RuntimeError, ValueError) as exc:
            raise HubError(f"the broker did not take the command: {exc}") from None
        if not info.is_published():
            raise HubError(f"the broker did not confirm the command within {PUBLISH_WAIT_S:.0f} s")

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            log.error("broker refused the dashboard's command link: %s", reason_code)
            return
        self._connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        self._connected.clear()
