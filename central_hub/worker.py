"""The network half of a hub worker: a persistent MQTT 5 session over mTLS that hands batches to
the store half (`central_hub.storeside`, its own process) and acknowledges each message only
after its batch is committed (MQTT PUBACK, then the app-level ack/1 the store half sealed).

- Session: clean_start=False and SessionExpiryInterval > 0 (paho's default is a clean start on
  every process start, which would throw away what the broker queued for us).
- Flow: manual_ack=True, ReceiveMaximum bounds what the broker sends before we ack, and the
  queue is larger than that, so the network thread never waits in practice; if it ever has to,
  it waits (TCP back-pressure) and the wait is counted -- nothing is dropped.
- Two processes: TLS reads and packet decoding here, COSE, schemas and SQL there, so the two
  do not share one GIL. Batches go over a pipe in order, at most BATCHES_IN_FLIGHT at a time
  (the next one grows while the store half commits). If the store process dies, a new one is
  started and the unanswered batches are sent again, marked as redeliveries.
- A PUBACK is sent only on the connection that delivered the message: after a reconnect the
  broker redelivers it (DUP) and the hub re-acknowledges that copy (packet ids are reused).
- Shared subscriptions (`$share/<group>/...`) let several workers split the load; storage is
  idempotent, so a message redelivered to another worker is harmless.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
import time
from multiprocessing.process import BaseProcess
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from central_hub.config import WorkerConfig
from central_hub.errors import HubError
from central_hub.services.lane import RpcLane
from central_hub.services.responder import Inbound as RequestIn
from central_hub.services.responder import Outbound as ResponseOut
from central_hub.stats import IngestStats
from central_hub.storeside import WireDownlink, serve
from mch_link.rpc import set_no_delay
from mch_link.topics import UPLINK_KINDS, Kind, uplink_filter

log = logging.getLogger(__name__)

READY_MESSAGE = "mch-hub: subscribed"
QUEUE_PUT_WAIT_S = 1.0
QUEUE_GET_WAIT_S = 0.2
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 30
STOP_DRAIN_S = 10.0
BATCHES_IN_FLIGHT = 2
STORE_START_S = 60.0
STORE_RESTART_MIN_S, STORE_RESTART_MAX_S = 0.5, 10.0


class _Item(NamedTuple):
    topic: str
    payload: bytes
    dup: bool
    received_at_ms: int
    mid: int
    qos: int
    generation: int  # connection that delivered it


class StoreProcess:
    """The store half in a child process, and the pipe to it."""

    def __init__(self, config: WorkerConfig, log_level: str) -> None:
        ctx = multiprocessing.get_context("spawn")  # no fork of a threaded process
        self.stop_event = ctx.Event()
        self.conn, child = ctx.Pipe()
        self.proc: BaseProcess = ctx.Process(target=serve, args=(config, child, self.stop_event, log_level, os.getpid()),
                                             name="mch-hub-store", daemon=True)
        self.proc.start()
        child.close()
        try:
            first = self.conn.recv() if self.conn.poll(STORE_START_S) else \
                ("failed", f"the store process did not start within {STORE_START_S:.0f} s")
        except (EOFError, OSError):
            first = ("failed", f"the store process exited (code {self.proc.exitcode})")
        if first[0] != "ready":
            self.close(0)
            raise HubError(first[1] if len(first) > 1 else f"store process: {first!r}")

    def close(self, timeout_s: float) -> None:
        self.stop_event.set()
        try:
            self.conn.send(("stop",))
        except (OSError, ValueError):
            pass
        self.proc.join(timeout_s)
        if self.proc.is_alive():
            log.error("store process did not stop within %.0f s; killing it (its batch stays unacknowledged)",
                      timeout_s)
            self.proc.kill()
            self.proc.join(5)
        self.conn.close()


class HubWorker:
    def __init__(self, config: WorkerConfig, log_level: str = "INFO") -> None:
        self.config = config
        self.log_level = log_level
        self.stats = IngestStats()
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=config.queue_max)
        self._stopping = threading.Event()
        self._accepting = threading.Event()
        self._subscribed = threading.Event()
        self._conn_lock = threading.Lock()
        self._generation = 0
        self._pending_subs: dict[int, int] = {}
        self._client = self._make_client()
        self._store: StoreProcess | None = None
        self._send_lock = threading.Lock()  # the pipe and the in-flight map change together
        self._in_flight: dict[int, list[_Item]] = {}
        self._slots = threading.Semaphore(BATCHES_IN_FLIGHT)
        self._seq = 0
        self._dispatcher = threading.Thread(target=self._dispatch_loop, name="hub-dispatch", daemon=True)
        self._results = threading.Thread(target=self._results_loop, name="hub-results", daemon=True)
        self._stats_at = 0.0
        self._rpc = RpcLane(config, self._publish_response, self.stats)  # requests: their own lane
        self._request_suffix = f"/{Kind.REQUEST.value}"

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Start the store process (raises HubError if it cannot open its store), then connect."""
        self._store = StoreProcess(self.config, self.log_level)
        try:
            self._rpc.start()
        except BaseException:
            self._store.close(1.0)
            raise
        self._accepting.set()
        self._dispatcher.start()
        self._results.start()
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
        self._wait_drained(deadline)
        self._stopping.set()
        self._dispatcher.join(max(0.1, deadline - time.monotonic()))
        self._wait_drained(deadline)  # the batch the dispatcher was still forming
        self._send(("stats", self._network_stats()))
        self._rpc.stop()
        if self._store is not None:
            self._store.close(max(1.0, deadline - time.monotonic()))
        self._results.join(1.0)
        self._client.disconnect()
        self._client.loop_stop()

    def _wait_drained(self, deadline: float) -> None:
        while (not self._queue.empty() or self._in_flight) and time.monotonic() < deadline:
            time.sleep(0.05)

    # -- MQTT (network thread) ----------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        ident = self.config.identity
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=ident.hub_id, protocol=mqtt.MQTTv5,
                             manual_ack=True)
        client.tls_set(ca_certs=str(ident.ca), certfile=str(ident.cert), keyfile=str(ident.key))
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.max_queued_messages_set(self.config.queue_max)  # outgoing acks while disconnected; overflow counted
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
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
        set_no_delay(client)  # answers to requests are small single packets
        opts = SubscribeOptions(qos=1)
        filters = [(uplink_filter(kind, self.config.share_group), opts) for kind in sorted(UPLINK_KINDS)]
        result, mid = client.subscribe(filters)
        if result != mqtt.MQTT_ERR_SUCCESS or mid is None:
            self.stats.add("subscribe_failed")
            log.error("could not send the subscription (%s); will retry on reconnect", result)
            return
        self._pending_subs[mid] = len(filters)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self.stats.add("connect_failed")  # paho retries with backoff (RECONNECT_MIN_S..RECONNECT_MAX_S)
        log.warning("cannot connect to the broker at %s:%s (refused, unreachable, or the TLS handshake failed); "
                    "retrying", self.config.broker_host, self.config.broker_port)

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
            if where.endswith(self._request_suffix):  # the request lane: answered, never batched
                self._on_request(client, msg, where)
                return
            item = _Item(where, bytes(msg.payload), bool(msg.dup), int(time.time() * 1000), msg.mid, msg.qos,
                         self._generation)
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

    def _on_request(self, client: mqtt.Client, msg: mqtt.MQTTMessage, where: str) -> None:
        props = msg.properties
        corr = getattr(props, "CorrelationData", None) if props else None
        self._rpc.submit(RequestIn(where, bytes(msg.payload), None if corr is None else bytes(corr),
                                   getattr(props, "ResponseTopic", None) if props else None))
        if msg.qos:
            client.ack(msg.mid, msg.qos)  # a request is answered or timed out, never redelivered later

    def _publish_response(self, out: ResponseOut) -> None:
        props = Properties(PacketTypes.PUBLISH)
        props.CorrelationData = out.correlation
        info = self._client.publish(out.topic, out.payload, qos=1, properties=props)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self.stats.add("rpc_publish_failed")

    # -- dispatcher thread: queue -> batches -> store process ----------------------------
    def _dispatch_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                if not self._slots.acquire(timeout=QUEUE_GET_WAIT_S):
                    continue
                batch = self._next_batch()
                if batch:
                    self._dispatch(batch)
                else:
                    self._slots.release()
                if time.monotonic() - self._stats_at >= self.config.stats_interval_s:
                    self._stats_at = time.monotonic()
                    self._send(("stats", self._network_stats()))
            except Exception:  # never let the dispatcher die; what it held stays unacked
                self.stats.add("dispatcher_errors")
                log.exception("dispatcher: unexpected error")
                time.sleep(QUEUE_GET_WAIT_S)

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

    def _dispatch(self, batch: list[_Item]) -> None:
        with self._send_lock:
            self._seq += 1
            self._in_flight[self._seq] = batch
            self._send_batch(self._seq, batch)

    def _send_batch(self, seq: int, batch: list[_Item], redelivered: bool = False) -> None:
        wire = [(i.topic, i.payload, i.dup or redelivered, i.received_at_ms) for i in batch]
        self._send(("batch", seq, wire))

    def _send(self, msg: tuple[Any, ...]) -> None:
        """A send on a dead pipe is not an error here: the results thread restarts the store process
        and sends every unanswered batch again."""
        store = self._store
        if store is None:
            return
        try:
            store.conn.send(msg)
        except (OSError, ValueError):
            self.stats.add("store_pipe_errors")

    def _network_stats(self) -> dict[str, int]:
        snapshot = self.stats.snapshot()
        snapshot["queue_depth"] = self._queue.qsize()
        snapshot["batches_in_flight"] = len(self._in_flight)
        return snapshot

    # -- results thread: committed batches -> PUBACKs and downlinks ----------------------
    def _results_loop(self) -> None:
        while True:
            store = self._store
            if store is None:
                return
            try:
                msg = store.conn.recv()
            except (EOFError, OSError):
                if self._stopping.is_set():
                    return
                self._restart_store(store)
                continue
            try:
                self._on_result(msg)
            except Exception:  # never let the results thread die; the batch stays unacked
                self.stats.add("results_errors")
                log.exception("results: unexpected error")

    def _on_result(self, msg: tuple[Any, ...]) -> None:
        if msg[0] not in ("done", "skipped"):
            log.error("store process sent %r", msg[0])
            return
        with self._send_lock:
            batch = self._in_flight.pop(msg[1], None)
        if batch is None:
            return
        self._slots.release()
        if msg[0] == "done":
            self._ack(batch, msg[2])
        else:
            self.stats.add("batches_skipped")

    def _ack(self, batch: list[_Item], downlinks: list[WireDownlink]) -> None:
        with self._conn_lock:
            for item in batch:
                if item.qos == 0:
                    continue
                if item.generation != self._generation:
                    self.stats.add("acks_skipped_reconnected")
                    continue
                self._client.ack(item.mid, item.qos)
        for where, payload in downlinks:
            info = self._client.publish(where, payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                self.stats.add("downlink_publish_failed")

    def _restart_store(self, dead: StoreProcess) -> None:
        """The store process died: start another and send it every unanswered batch, as redeliveries
        (the dead one may have committed some of them; the handler knows a redelivered envelope)."""
        delay = STORE_RESTART_MIN_S
        log.error("store process exited (code %s); restarting it", dead.proc.exitcode)
        dead.close(1.0)
        while not self._stopping.is_set():
            self.stats.add("store_restarts")
            try:
                with self._send_lock:
                    self._store = StoreProcess(self.config, self.log_level)
                    for seq, batch in sorted(self._in_flight.items()):
                        self._send_batch(seq, batch, redelivered=True)
                return
            except HubError as exc:
                log.error("cannot restart the store process: %s", exc)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, STORE_RESTART_MAX_S)
