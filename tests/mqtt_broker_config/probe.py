"""A paho-mqtt 2.2 MQTT 5 client over mutual TLS that records what the broker did, for the broker tests."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from mqtt_broker_config.launcher import BrokerProcess
from tests.support.broker import TlsFiles

CONNECT_TIMEOUT_S = 5.0
WAIT_TIMEOUT_S = 5.0
QUIET_S = 0.5  # how long "nothing arrives" is watched for
NOT_AUTHORIZED = 0x87
SESSION_EXPIRY_S = 3600


@dataclass
class Probe:
    client: mqtt.Client
    connected: threading.Event = field(default_factory=threading.Event)
    disconnected: threading.Event = field(default_factory=threading.Event)
    connack: ReasonCode | None = None
    session_present: bool = False
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    pubacks: dict[int, ReasonCode] = field(default_factory=dict)
    subacks: dict[int, list[ReasonCode]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> ReasonCode:
        """Publish and wait for the PUBACK; returns its MQTT 5 reason code."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        self._wait(lambda: info.mid in self.pubacks, f"PUBACK for {topic}")
        return self.pubacks[info.mid]

    def subscribe(self, topic: str, qos: int = 1) -> ReasonCode:
        _, mid = self.client.subscribe(topic, qos=qos)
        self._wait(lambda: mid in self.subacks, f"SUBACK for {topic}")
        return self.subacks[mid][0]

    def wait_messages(self, count: int, timeout_s: float = WAIT_TIMEOUT_S) -> list[tuple[str, bytes]]:
        self._wait(lambda: len(self.messages) >= count, f"{count} message(s)", timeout_s)
        return list(self.messages)

    def _wait(self, cond: Any, what: str, timeout_s: float = WAIT_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while not cond():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {what} within {timeout_s} s")
            time.sleep(0.01)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def connect(broker: BrokerProcess, tls: TlsFiles, client_id: str, *, clean_start: bool = True,
            present_cert: bool = True, timeout_s: float = CONNECT_TIMEOUT_S) -> Probe:
    """Connect and wait for CONNACK. Raises ConnectionRefusedError when the broker refuses us."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if present_cert:
        client.tls_set(ca_certs=str(tls.ca), certfile=str(tls.cert), keyfile=str(tls.key))
    else:
        client.tls_set(ca_certs=str(tls.ca))
    probe = Probe(client)

    def on_connect(c: mqtt.Client, u: Any, flags: Any, rc: ReasonCode, props: Any) -> None:
        probe.connack, probe.session_present = rc, bool(flags.session_present)
        probe.connected.set()

    def on_disconnect(c: mqtt.Client, u: Any, flags: Any, rc: ReasonCode, props: Any) -> None:
        probe.disconnected.set()

    def on_message(c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
        with probe.lock:
            probe.messages.append((msg.topic, msg.payload))

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_message = on_message
    client.on_publish = lambda c, u, mid, rc, p: probe.pubacks.__setitem__(mid, rc)
    client.on_subscribe = lambda c, u, mid, rcs, p: probe.subacks.__setitem__(mid, rcs)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0 if clean_start else SESSION_EXPIRY_S
    try:
        client.connect(broker.host, broker.port, clean_start=clean_start, properties=props)
    except (ssl.SSLError, OSError) as exc:
        raise ConnectionRefusedError(f"TLS refused: {exc}") from None
    client.loop_start()
    deadline = time.monotonic() + timeout_s
    while not probe.connected.is_set():
        if probe.disconnected.is_set() or time.monotonic() > deadline:
            client.loop_stop()
            raise ConnectionRefusedError(f"no CONNACK for {client_id} (disconnected={probe.disconnected.is_set()})")
        time.sleep(0.01)
    if probe.connack is None or probe.connack.is_failure:
        client.loop_stop()
        raise ConnectionRefusedError(f"CONNACK {probe.connack}")
    return probe


VERDICT_WAIT_S = 0.3  # the broker's alert normally comes within milliseconds of the handshake
ACCEPTED = "accepted"
# MQTT 3.1.1 CONNECT, clean session, keepalive 10 s, empty client id (the broker uses the CN)
CONNECT_PACKET = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x0a\x00\x00"
CONNACK_TYPE = 0x20


def tls_outcome(broker: BrokerProcess, tls: TlsFiles, present_cert: bool = True) -> str:
    """'accepted' if the broker admits us (TLS with our certificate, then CONNACK), else the
    reason of the TLS alert it sent (e.g. 'SSLV3_ALERT_CERTIFICATE_REVOKED').

    With TLS 1.3 the server judges the client certificate after the client's handshake has
    finished: we first only read (writing could race the alert with a TCP reset), then send
    CONNECT and require a CONNACK, so a slow verdict can never pass for 'accepted'."""
    ctx = ssl.create_default_context(cafile=str(tls.ca))
    if present_cert:
        ctx.load_cert_chain(str(tls.cert), str(tls.key))
    with socket.create_connection((broker.host, broker.port), timeout=CONNECT_TIMEOUT_S) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname=broker.host) as conn:
                conn.settimeout(VERDICT_WAIT_S)
                try:
                    data = conn.recv(1)
                    return f"closed without alert ({data!r})"
                except TimeoutError:
                    pass
                conn.settimeout(CONNECT_TIMEOUT_S)
                conn.sendall(CONNECT_PACKET)
                data = conn.recv(4)
                if data[:1] == bytes([CONNACK_TYPE]):
                    return ACCEPTED
                return f"no CONNACK ({data!r})"
        except ssl.SSLError as exc:
            return str(exc.reason or exc)
        except OSError as exc:
            return f"connection lost ({exc})"
