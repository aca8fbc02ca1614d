"""A device's link to the hub: the durable outbox drained over an mTLS MQTT 5 session.

`submit` commits a record to the outbox and returns; a sender thread packs pending records
into envelopes (one schema per envelope, up to `batch_max` records), keeps at most `window`
envelopes awaiting the hub's application acknowledgement (so the broker's per-client queue
can never overflow), and deletes records only when an `ack/1` from the hub names them.
Unacknowledged records are sealed again under fresh counters after a reconnect or
`ack_timeout_s`. Fleet state follows the Sparkplug session pattern: birth after connect,
death as the last will (rebuilt with the next bdseq before every connect), heartbeats.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mch_link import cose, envelope, schemas
from mch_link.envelope import Record
from mch_link.errors import LinkError
from mch_link.keys import KEYS_FILE, LinkKeys
from mch_link.outbox import Outbox, Pending
from mch_link.rpc import set_no_delay
from mch_link.topics import Kind, topic

log = logging.getLogger(__name__)

ACK_SCHEMA = "ack/1"
STATE_SCHEMA = "state/1"
CMD_SCHEMA = "cmd/1"
BUNDLE_FORMAT = "mch-device/1"
STATE_RECORD_ID = 0  # state messages are not outbox records; the hub applies them, never acks them
MAX_RESEND_AFTER_S = 900.0  # resend backoff cap while the hub does not answer
JITTER = 0.2
MAX_COMMANDS_REMEMBERED = 256
MIN_STATE_INTERVAL_S = 1.0  # report_state's rate limit
MAX_HEARTBEAT_S, MAX_AGE_S = 3600, 31_536_000_000  # state/1's bounds: a report past them would be held
# The application's answer to a hub command (command, args) -> (status "done"|"refused"|"failed", detail).
# Called on the MQTT network thread: it must not block (start long work elsewhere, answer "done" when accepted).
CommandHandler = Callable[[str, dict[str, Any]], tuple[str, str]]


@dataclass(frozen=True)
class DeviceConfig:
    device_id: str
    kind: str
    broker_host: str
    broker_port: int
    ca_file: Path
    cert_file: Path
    key_file: Path
    firmware: str = "mch-edge/0.1.0"

    @classmethod
    def from_bundle(cls, bundle: Path) -> DeviceConfig:
        """Read a provisioning bundle directory (config.json, certificates, keys)."""
        bundle = Path(bundle)
        try:
            cfg = json.loads((bundle / "config.json").read_text())
            if cfg.get("format") != BUNDLE_FORMAT:
                raise ValueError(f"format {cfg.get('format')!r}, want {BUNDLE_FORMAT!r}")
            return cls(cfg["device_id"], cfg.get("kind", "sim"), cfg["broker_host"], int(cfg["broker_port"]),
                       bundle / "ca.pem", bundle / "device.crt.pem", bundle / "device.key.pem",
                       cfg.get("firmware", cls.firmware))
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise LinkError(f"bundle {bundle}: bad or missing config.json ({exc.__class__.__name__}: {exc})") from None


@dataclass
class LinkStats:
    connected: bool = False
    connects: int = 0
    envelopes_sent: int = 0
    records_sent: int = 0
    records_acked: int = 0
    resends: int = 0
    bad_downlink: int = 0


@dataclass
class _InFlight:
    msg_ids: tuple[int, ...]
    sent_at: float


class DeviceLink:
    def __init__(self, config: DeviceConfig, keys: LinkKeys, outbox: Outbox, *, window: int = 16,
                 batch_max: int = 100, ack_timeout_s: float = 30.0, heartbeat_s: float = 30.0,
                 session_expiry_s: int = 86400, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 on_acked: Callable[[set[int]], None] | None = None,
                 faults: Callable[[], list[dict[str, Any]]] | None = None,
                 alarm_summary: Callable[[], dict[str, Any]] | None = None,
                 on_command: CommandHandler | None = None) -> None:
        if keys.device_id != config.device_id:
            raise LinkError(f"link keys are for {keys.device_id!r}, bundle is {config.device_id!r}")
        self.config, self.keys, self.outbox = config, keys, outbox
        self.window, self.batch_max, self.ack_timeout_s = window, batch_max, ack_timeout_s
        self.heartbeat_s, self.session_expiry_s, self.clock = heartbeat_s, session_expiry_s, clock
        self.monotonic = monotonic  # uptime, ack timeouts, heartbeats: a wall-clock step must not stall them
        self.epoch = os.urandom(cose.EPOCH_LEN)  # per process, in every nonce: a lost or restored outbox
        # (counter back at an old value) still never seals two messages under one nonce
        self.on_acked = on_acked  # told which record ids the hub acknowledged (latency measurement)
        # mch_link.rpc.RpcClient sets this: (payload, correlation data) of each message on our rsp topic
        self.on_response: Callable[[bytes, bytes | None], None] | None = None
        self.faults = faults  # the application's active faults, reported in every birth and heartbeat
        self.alarm_summary = alarm_summary  # a station's {"beds_in_alarm": n, "highest": "none|low|medium|high"}
        self.on_command = on_command  # hub commands other than rebirth (see CommandHandler)
        self._state_lock = threading.Lock()  # state messages leave in seq order, whichever thread sends them
        self._command_results: list[dict[str, Any]] = []  # reported in the next state message
        self._commands_seen: dict[int, None] = {}  # ids already carried out (a redelivered command is not rerun)
        self.stats = LinkStats()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._state_due = threading.Event()  # report_state(): a state message before the next heartbeat
        self._stopping = threading.Event()
        self._inflight: dict[int, _InFlight] = {}  # by counter
        self._cursor = 0  # highest record id sent since the last (re)connect or timeout
        self._resend_after_s = ack_timeout_s  # grows while the hub does not answer (next_resend_after)
        self._bdseq = 0
        self._seq = 0
        self._started_at = monotonic()
        self._sender: threading.Thread | None = None
        self._client: mqtt.Client | None = None  # made in start(): constructing needs no certificates

    @classmethod
    def from_bundle(cls, bundle: Path, outbox_path: Path | None = None, broker: tuple[str, int] | None = None,
                    **kwargs: Any) -> DeviceLink:
        """`broker` (host, port) overrides the bundle's address (e.g. a broker on an ephemeral port)."""
        bundle = Path(bundle)
        config = DeviceConfig.from_bundle(bundle)
        if broker is not None:
            config = replace(config, broker_host=broker[0], broker_port=broker[1])
        return cls(config, LinkKeys.read(bundle / KEYS_FILE), Outbox(outbox_path or bundle / "outbox.sqlite3"),
                   **kwargs)

    # -- application side -------------------------------------------------------------
    def submit(self, kind: Kind, schema: str, body: dict[str, Any], made_at_ms: int | None = None) -> int:
        """Validate and commit one record; durable when this returns. Raises SchemaError/OutboxError."""
        return self.submit_many(kind, schema, [body], made_at_ms)[0]

    def submit_many(self, kind: Kind, schema: str, bodies: Sequence[dict[str, Any]],
                    made_at_ms: int | None = None) -> list[int]:
        if kind not in (Kind.RECORDS, Kind.CTG, Kind.ALARMS):
            raise LinkError(f"records go on rec, ctg or alarm topics, not {kind.value!r}")
        if not schemas.allowed_on(schema, kind.value):
            raise LinkError(f"{schema} records do not go on the {kind.value} topic")
        for body in bodies:
            schemas.validate(schema, body)
        made = made_at_ms if made_at_ms is not None else int(self.clock() * 1000)
        ids = self.outbox.add_many(kind.value, schema, [(b, made) for b in bodies])
        self._wake.set()
        return ids

    def start(self) -> None:
        self._client = client = self._make_client()
        self._set_will(client)
        client.connect_async(self.config.broker_host, self.config.broker_port, keepalive=30,
                                   clean_start=False, properties=self._connect_properties())
        client.loop_start()
        self._sender = threading.Thread(target=self._send_loop, name=f"link-{self.config.device_id}", daemon=True)
        self._sender.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Graceful: publish death, disconnect (which suppresses the will), stop threads."""
        self._stopping.set()
        self._wake.set()
        if self._sender:
            self._sender.join(timeout)
        client = self._client
        if client is None:
            return
        if self.stats.connected:
            info = self._publish_state(client, "death")
            info.wait_for_publish(timeout)
        client.disconnect()
        client.loop_stop()

    def rotate_keys(self, keys: LinkKeys) -> None:
        """Seal under new link keys from now on; downlink opens under the new or the replaced key
        (its grace window), so acks for envelopes sent before the rotation still count. An ack the
        hub sealed under the new key before this call is not lost either: its records are resent
        after the ack timeout and the hub, which holds them, acknowledges them again."""
        if keys.device_id != self.config.device_id:
            raise LinkError(f"link keys are for {keys.device_id!r}, this link is {self.config.device_id!r}")
        self.keys = keys  # one reference swap: the sender and the network thread read it per message
        self._wake.set()

    def reconnect(self) -> None:
        """A new MQTT session with the certificate and key now in the config's files (after a
        renewal installed new ones): paho's TLS context is fixed per client, so the old client is
        closed (death published) and a new one connects. Outbox and in-flight records are kept:
        what was unacknowledged is sent again on the new session."""
        old = self._client
        if old is not None:
            if self.stats.connected:
                self._publish_state(old, "death").wait_for_publish(5.0)
            old.on_disconnect = old.on_connect = None  # its late callbacks must not touch the new session's state
            old.disconnect()
            old.loop_stop()
        with self._lock:
            self.stats.connected = False
        self._client = client = self._make_client()
        self._set_will(client)
        client.connect_async(self.config.broker_host, self.config.broker_port, keepalive=30,
                             clean_start=False, properties=self._connect_properties())
        client.loop_start()

    def report_state(self) -> None:
        """Send a state message soon (a fault appeared or cleared) instead of at the next heartbeat.
        From the sender thread, at most one a second: a device flapping its faults cannot flood the hub."""
        self._state_due.set()
        self._wake.set()

    def wait_connected(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not self.stats.connected:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def depth(self) -> int:
        return self.outbox.depth()

    # -- request/response (mch_link.rpc) ------------------------------------------------
    def next_counter(self) -> int:
        """A fresh uplink counter from the one persisted sequence (requests share it with records)."""
        return self.outbox.next_counter()

    def publish_request(self, payload: bytes, correlation: bytes) -> bool:
        """Publish a sealed request with MQTT 5 Response Topic + Correlation Data; False if not connected."""
        client = self._client
        if client is None or not self.stats.connected:
            return False
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = topic(self.config.device_id, Kind.RESPONSE)
        props.CorrelationData = correlation
        info = client.publish(topic(self.config.device_id, Kind.REQUEST), payload, qos=1, properties=props)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def wait_drained(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.outbox.depth() == 0:
                return True
            time.sleep(0.05)
        return self.outbox.depth() == 0

    # -- MQTT session -----------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.config.device_id, protocol=mqtt.MQTTv5)
        c.tls_set(ca_certs=str(self.config.ca_file), certfile=str(self.config.cert_file),
                  keyfile=str(self.config.key_file))
        c.reconnect_delay_set(min_delay=1, max_delay=30)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        return c

    def _connect_properties(self) -> Properties:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry_s
        return props

    def _set_will(self, client: mqtt.Client) -> None:
        """The death message must carry the bdseq of the connect it belongs to: rebuild it each time."""
        self._bdseq = self.outbox.bump("bdseq") % 256
        client.will_set(topic(self.config.device_id, Kind.STATE), self._state("death"), qos=1)

    def _publish_state(self, client: mqtt.Client, event: str) -> mqtt.MQTTMessageInfo:
        with self._state_lock:
            return client.publish(topic(self.config.device_id, Kind.STATE), self._state(event), qos=1)

    def _state(self, event: str) -> bytes:
        body: dict[str, Any] = {"event": event, "bdseq": self._bdseq, "seq": self._seq % 256}
        if event != "death":
            oldest_ms = self.outbox.oldest_created_ms()
            now_ms = int(self.clock() * 1000)
            age_s = 0 if oldest_ms is None else min(MAX_AGE_S, max(0, (now_ms - oldest_ms) // 1000))
            body.update(firmware=self.config.firmware, kind=self.config.kind, queue_depth=self.outbox.depth(),
                        uptime_s=round(self.monotonic() - self._started_at, 3),
                        heartbeat_s=min(MAX_HEARTBEAT_S, max(1, round(self.heartbeat_s))), oldest_record_age_s=age_s)
            body["command_results"], self._command_results = self._command_results[:16], self._command_results[16:]
            if self.faults is not None:
                body["faults"] = self._reported_faults(body)
            if self.alarm_summary is not None:
                summary = self._reported_alarms(body)
                if summary is not None:
                    body["alarms"] = summary
            self._seq += 1
        return self._seal(Kind.STATE, STATE_SCHEMA, [Record(STATE_RECORD_ID, body, int(self.clock() * 1000))])

    def _seal(self, kind: Kind, schema: str, records: list[Record]) -> bytes:
        t = topic(self.config.device_id, kind)
        return envelope.seal(self.keys.uplink, self.config.device_id, t, self.outbox.next_counter(), schema,
                             records, int(self.clock() * 1000), self.epoch)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            log.warning("%s: broker refused connection: %s", self.config.device_id, reason_code)
            return
        set_no_delay(client)
        client.subscribe([(topic(self.config.device_id, Kind.ACK), 1), (topic(self.config.device_id, Kind.CMD), 1),
                          (topic(self.config.device_id, Kind.RESPONSE), 1)])
        with self._lock:
            self.stats.connected = True
            self.stats.connects += 1
            self._restart_sending()
        self._seq = 0
        self._publish_state(client, "birth")
        self._wake.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        with self._lock:
            self.stats.connected = False
        if not self._stopping.is_set():
            log.info("%s: disconnected (%s); will reconnect", self.config.device_id, reason_code)
            self._set_will(client)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == topic(self.config.device_id, Kind.RESPONSE):
            if self.on_response is not None:
                corr = getattr(msg.properties, "CorrelationData", None) if msg.properties else None
                self.on_response(bytes(msg.payload), None if corr is None else bytes(corr))
            return
        try:
            opened = envelope.open_envelope(bytes(msg.payload), self.keys.downlink, msg.topic)
            if opened.schema == ACK_SCHEMA:
                self._on_ack(opened.records)
            elif opened.schema == CMD_SCHEMA:
                for rec in opened.records:
                    schemas.validate(CMD_SCHEMA, rec.body)
                    self._on_command(client, rec.body)
            else:
                raise LinkError(f"unexpected downlink schema {opened.schema!r}")
        except LinkError as exc:  # forged, tampered or foreign: never acted on
            self.stats.bad_downlink += 1
            log.warning("%s: ignored downlink message on %s: %s", self.config.device_id, msg.topic, exc)

    def _reported_faults(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The application's faults, if they fit state/1; a bad report must not cost the whole state
        message (the hub would hold it and the device would never show online)."""
        try:
            faults = list(self.faults()) if self.faults is not None else []
            schemas.validate(STATE_SCHEMA, {**body, "faults": faults})
            return faults
        except Exception as exc:  # the application's callable failed or reported something malformed
            log.error("%s: fault report refused: %s", self.config.device_id, exc)
            return [{"code": "fault-report-invalid", "severity": "warning", "detail": str(exc)[:200]}]

    def _reported_alarms(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The station's alarm summary if it fits state/1; otherwise left out (and logged), never the message."""
        try:
            summary = dict(self.alarm_summary()) if self.alarm_summary is not None else None
            schemas.validate(STATE_SCHEMA, {**body, "alarms": summary})
            return summary
        except Exception as exc:  # the application's callable failed or reported something malformed
            log.error("%s: alarm summary refused: %s", self.config.device_id, exc)
            return None

    def _on_command(self, client: mqtt.Client, body: dict[str, Any]) -> None:
        """Carry out a command once; its result rides on the next state message (sent at once)."""
        command, command_id = body["command"], body.get("id")
        if command_id is not None and command_id in self._commands_seen:
            return
        if command == "rebirth":
            status, detail = "done", ""
        elif self.on_command is None:
            status, detail = "refused", f"{command} is not supported by this device"
        else:
            try:
                status, detail = self.on_command(command, body.get("args", {}))
            except Exception as exc:  # the application's handler failed: say so, keep the link
                status, detail = "failed", f"{exc.__class__.__name__}: {exc}"[:200]
        if command_id is not None:
            self._commands_seen[command_id] = None
            while len(self._commands_seen) > MAX_COMMANDS_REMEMBERED:
                self._commands_seen.pop(next(iter(self._commands_seen)))
            with self._state_lock:
                self._command_results.append({"id": command_id, "status": status, "detail": detail[:200]})
        if command == "rebirth" or command_id is not None:
            self._publish_state(client, "birth" if command == "rebirth" else "heartbeat")

    def _on_ack(self, records: Sequence[Record]) -> None:
        done: set[int] = set()
        for rec in records:
            schemas.validate(ACK_SCHEMA, rec.body)
            done.update(rec.body["ok"])
            done.update(rec.body["held"])
            if "floor" in rec.body:  # our ids were used before (outbox restored): go above the hub's
                self.outbox.raise_ids_above(rec.body["floor"])
        deleted = self.outbox.delete(done)
        if self.on_acked is not None:
            self.on_acked(done)
        with self._lock:
            self.stats.records_acked += deleted
            for counter, flight in list(self._inflight.items()):
                if done.issuperset(flight.msg_ids):
                    del self._inflight[counter]
            self._resend_after_s = self.ack_timeout_s  # the hub answers: back to the normal timeout
        self._wake.set()

    # -- sender -----------------------------------------------------------------------
    def _restart_sending(self) -> None:
        """Everything not yet acknowledged is sent again (sealed anew) from the oldest record."""
        if self._inflight:
            self.stats.resends += 1
        self._inflight.clear()
        self._cursor = 0

    def _send_loop(self) -> None:
        last_heartbeat = self.monotonic()
        while not self._stopping.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            try:
                now = self.monotonic()
                with self._lock:
                    if not self.stats.connected:
                        continue
                    oldest = min((f.sent_at for f in self._inflight.values()), default=now)
                    if now - oldest > self._resend_after_s:
                        log.info("%s: no acknowledgement for %.0f s; resending", self.config.device_id, now - oldest)
                        self._restart_sending()
                        self._resend_after_s = next_resend_after(self._resend_after_s, self.ack_timeout_s)
                self._fill_window()
                due = now - last_heartbeat >= self.heartbeat_s or (
                    self._state_due.is_set() and now - last_heartbeat >= MIN_STATE_INTERVAL_S)
                if due and self._client is not None:
                    last_heartbeat = now
                    self._state_due.clear()
                    self._publish_state(self._client, "heartbeat")
            except LinkError as exc:  # e.g. outbox unreadable: keep the thread, retry on the next wake
                log.error("%s: sender: %s", self.config.device_id, exc)
                time.sleep(0.5)

    def _fill_window(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                if len(self._inflight) >= self.window or not self.stats.connected:
                    return
                cursor = self._cursor
            rows = self.outbox.pending(after_id=cursor, limit=self.batch_max)
            if not rows:
                return
            batch = _next_batch(rows)
            records = [Record(r.msg_id, r.body, r.made_at_ms) for r in batch]
            kind = Kind(batch[0].kind)
            counter = self.outbox.next_counter()
            t = topic(self.config.device_id, kind)
            payload = envelope.seal(self.keys.uplink, self.config.device_id, t, counter, batch[0].schema,
                                    records, int(self.clock() * 1000), self.epoch)
            with self._lock:
                if self._cursor != cursor:  # a reconnect reset the cursor meanwhile: start over
                    continue
                self._inflight[counter] = _InFlight(tuple(r.msg_id for r in batch), self.monotonic())
                self._cursor = batch[-1].msg_id
                self.stats.envelopes_sent += 1
                self.stats.records_sent += len(batch)
                client = self._client
            if client is not None:
                client.publish(t, payload, qos=1)


def next_resend_after(current_s: float, base_s: float) -> float:
    """The wait before the next resend of an unanswered window: doubled each time, at most
    MAX_RESEND_AFTER_S, with +-JITTER so that a site's devices do not resend in step when the
    hub comes back. During a one-hour hub outage a device resends its window 8-14 times, not 120."""
    return min(current_s * 2, max(base_s, MAX_RESEND_AFTER_S)) * random.uniform(1 - JITTER, 1 + JITTER)


def _next_batch(rows: list[Pending]) -> list[Pending]:
    """The leading records of one kind and schema that fit one envelope (AES-CCM's length limit)."""
    first = rows[0]
    out = [first]
    size = envelope.ARRAY_OVERHEAD + first.size + envelope.RECORD_OVERHEAD
    for r in rows[1:]:
        size += r.size + envelope.RECORD_OVERHEAD
        if (r.kind, r.schema) != (first.kind, first.schema) or size > cose.MAX_PLAINTEXT:
            break
        out.append(r)
    return out
