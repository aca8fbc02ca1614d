"""The MQTT worker: a persistent MQTT 5 session over mTLS, a bounded queue to a writer thread
that batches, commits, and only then acknowledges (MQTT PUBACK, then the app-level ack/1).

- Session: clean_start=False and SessionExpiryInterval > 0 (paho's default is a clean start on
  every process start, which would throw away what the broker queued for us).
- Flow: manual_ack=True, ReceiveMaximum bounds what the broker sends before we ack, and the
  queue is larger than that, so the network thread never waits in practice; if it ever has to,
  it waits (TCP back-pressure) and the wait is counted -- nothing is dropped.
- A PUBACK is sent only on the connection that delivered the message: after a reconnect the
  broker redelivers it (DUP) and the hub re-acknowledges that copy (packet ids are reused).
- Shared subscriptions (`$share/<group>/...`) let several workers split the load; storage is
  idempotent, so a message redelivered to another worker is harmless.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from central_hub.config import WorkerConfig
from central_hub.datakey import load_or_create
from central_hub.directory import Directory
from central_hub.downlink import Downlink, DownlinkCounters, DownlinkSealer
from central_hub.errors import StoreUnavailable
from central_hub.handler import Handler, Inbound
from central_hub.ingest import Ingestor
from central_hub.outcome import Outcome
from central_hub.stats import IngestStats
from central_hub.store import open_store
from mch_link.topics import UPLINK_KINDS, uplink_filter

log = logging.getLogger(__name__)

READY_MESSAGE = "mch-hub: subscribed"
QUEUE_PUT_WAIT_S = 1.0
QUEUE_GET_WAIT_S = 0.2
RETRY_MIN_S, RETRY_MAX_S = 0.2, 5.0
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 30
STOP_DRAIN_S = 10.0


@dataclass(frozen=True)
class _Item:
    inbound: Inbound
    mid: int
    qos: int
    generation: int  # connection that delivered it


class HubWorker:
    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.stats = IngestStats()
        self.store = open_store(config.db_url)
        self.directory = Directory.from_site(config.site_dir)
        cipher = load_or_create(config.state_dir)
        sealer = DownlinkSealer(self.directory, DownlinkCounters(self.store))
        self.ingestor = Ingestor(self.store, Handler(self.directory, cipher), sealer, self.stats)
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=config.queue_max)
        self._stopping = threading.Event()
        self._accepting = threading.Event()
        self._subscribed = threading.Event()
        self._conn_lock = threading.Lock()
        self._generation = 0
        self._pending_subs: dict[int, int] = {}
        self._client = self._make_client()
        self._writer = threading.Thread(target=self._write_loop, name="hub-writer", daemon=True)
        self._stats_at = 0.0

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        self._accepting.set()
        self._writer.start()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.config.session_expiry_s
        props.ReceiveMaximum = self.config.receive_maximum
        self._client.connect_async(self.config.broker_host, self.config.broker_port, self.config.keepalive_s,
                                   clean_start=False, properties=props)
        self._client.loop_start()

    def wait_subscribed(self, timeout_s: float) -> bool:
        return self._subscribed.wait(timeout_s)

    def stop(self, timeout_s: float = STOP_DRAIN_S) -> None:
        """Stop taking messages, commit and ack what is queued, disconnect (the session stays)."""
        self._accepting.clear()
        deadline = time.monotonic() + timeout_s
        while not self._queue.empty() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stopping.set()
        self._writer.join(max(0.1, deadline - time.monotonic()))
        self._client.disconnect()
        self._client.loop_stop()
        self._save_stats()
        self.store.close()

    # -- MQTT (network thread) ----------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        ident = self.config.identity
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=ident.hub_id, protocol=mqtt.MQTTv5,
                             manual_ack=True)
        client.tls_set(ca_certs=str(ident.ca), certfile=str(ident.cert), keyfile=str(ident.key))
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.max_queued_messages_set(self.config.queue_max)  # outgoing acks while disconnected; overflow counted
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            self.stats.add("connect_refused")
            log.error("broker %s:%s refused the hub: %s", self.config.broker_host, self.config.broker_port,
                      reason_code)
            return
        with self._conn_lock:
            self._generation += 1
        self.stats.add("connects")
        log.info("connected to %s:%s (session present: %s)", self.config.broker_host, self.config.broker_port,
                 flags.session_present)
        opts = SubscribeOptions(qos=1)
        filters = [(uplink_filter(kind, self.config.share_group), opts) for kind in sorted(UPLINK_KINDS)]
        result, mid = client.subscribe(filters)
        if result != mqtt.MQTT_ERR_SUCCESS or mid is None:
            self.stats.add("subscribe_failed")
            log.error("could not send the subscription (%s); will retry on reconnect", result)
            return
        self._pending_subs[mid] = len(filters)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any, properties: Any) -> None:
        if self._pending_subs.pop(mid, None) is None:
            return
        failed = [rc for rc in reason_codes if rc.is_failure]
        if failed:
            self.stats.add("subscribe_refused")
            log.error("broker refused the hub's subscriptions: %s", failed)
            return
        log.info("%s to %s", READY_MESSAGE,
                 ", ".join(uplink_filter(k, self.config.share_group) for k in sorted(UPLINK_KINDS)))
        self._subscribed.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        with self._conn_lock:
            self._generation += 1
        self._subscribed.clear()
        if not self._stopping.is_set():
            self.stats.add("disconnects")
            log.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            try:
                where = msg.topic
            except UnicodeDecodeError:  # kept, and quarantined as a bad topic
                where = bytes(msg._topic).decode("utf-8", "replace")
            item = _Item(Inbound(where, bytes(msg.payload), bool(msg.dup), int(time.time() * 1000)),
                         msg.mid, msg.qos, self._generation)
            while self._accepting.is_set():
                try:
                    self._queue.put(item, timeout=QUEUE_PUT_WAIT_S)
                    return
                except queue.Full:
                    self.stats.add("queue_full_waits")
            self.stats.add("unacked_at_stop")  # not acked: the broker sends it again next session
        except Exception:  # never let paho's network thread die
            self.stats.add("network_thread_errors")
            log.exception("failed to queue a message")

    # -- writer thread --------------------------------------------------------------------
    def _write_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                batch = self._next_batch()
                if batch:
                    self._commit_and_ack(batch)
                if time.monotonic() - self._stats_at >= self.config.stats_interval_s:
                    self._save_stats()
            except Exception:  # a bug in one batch must not end ingest; its messages stay unacked
                self.stats.add("writer_errors")
                log.exception("writer: unexpected error")
                time.sleep(RETRY_MIN_S)

    def _next_batch(self) -> list[_Item]:
        try:
            batch = [self._queue.get(timeout=QUEUE_GET_WAIT_S)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.config.batch_max_ms / 1000
        while len(batch) < self.config.batch_max_messages:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self._queue.get_nowait() if remaining <= 0 else self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _commit_and_ack(self, batch: list[_Item]) -> None:
        delay = RETRY_MIN_S
        while True:
            try:
                outcomes = self.ingestor.process([i.inbound for i in batch])
                break
            except StoreUnavailable as exc:
                self.stats.add("store_retries")
                log.error("store unavailable, batch of %d kept unacknowledged: %s", len(batch), exc)
                if self._stopping.wait(delay):
                    return
                delay = min(delay * 2, RETRY_MAX_S)
        with self._conn_lock:
            for item in batch:
                if item.qos == 0:
                    continue
                if item.generation != self._generation:
                    self.stats.add("acks_skipped_reconnected")
                    continue
                self._client.ack(item.mid, item.qos)
        for down in self._downlinks(outcomes):
            info = self._client.publish(down.topic, down.payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                self.stats.add("downlink_publish_failed")

    def _downlinks(self, outcomes: list[Outcome]) -> list[Downlink]:
        try:
            return self.ingestor.downlinks(outcomes)
        except StoreUnavailable as exc:  # no downlink counter reserved: the device resends, is acked then
            self.stats.add("downlink_counter_unavailable")
            log.error("cannot reserve downlink counters: %s", exc)
            return []

    def _save_stats(self) -> None:
        self._stats_at = time.monotonic()
        snapshot: dict[str, Any] = dict(self.stats.snapshot())
        snapshot["queue_depth"] = self._queue.qsize()
        try:
            self.store.put_worker_stats(self.config.identity.hub_id, int(time.time() * 1000), snapshot)
        except StoreUnavailable as exc:
            log.warning("could not save worker stats: %s", exc)
