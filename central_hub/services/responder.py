"""One request in, one sealed response out (or nothing, for what does not authenticate).

Checks, in order: topic is a device's ``req`` -> device known and active -> envelope kid is
that device -> opens under the device's request key (authentic, intact, for this topic) ->
counter fresh in the device's request replay window -> MQTT Response Topic is the device's
own ``rsp`` and Correlation Data matches the sealed copy. Anything failing is refused and
counted, never answered: an answer to a forgery would be an oracle.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from central_hub.directory import Directory
from central_hub.replay import ReplayWindow, Verdict
from central_hub.services.db import ServicesDb
from central_hub.services.dispatcher import Dispatcher
from central_hub.stats import IngestStats
from mch_link import cose, envelope, rpc
from mch_link.errors import LinkError
from mch_link.topics import Kind, Topic, topic

log = logging.getLogger(__name__)

COUNTER_BLOCK = 1024


@dataclass(frozen=True)
class Inbound:
    topic: str
    payload: bytes
    correlation: bytes | None
    response_topic: str | None


@dataclass(frozen=True)
class Outbound:
    topic: str
    payload: bytes
    correlation: bytes


class ResponseCounters:
    """Per-device response counters, reserved durably in blocks before use (never reused)."""

    def __init__(self, db: ServicesDb, block: int = COUNTER_BLOCK) -> None:
        self.db, self.block = db, block
        self._lock = threading.Lock()
        self._ranges: dict[str, tuple[int, int]] = {}

    def next(self, device_id: str) -> int:
        with self._lock:
            nxt, end = self._ranges.get(device_id, (0, 0))
            if nxt >= end:
                with self.db.write():
                    row = self.db.execute("INSERT INTO svc_rpc_downlink (device_id, reserved) VALUES (?, ?)"
                                          " ON CONFLICT (device_id) DO UPDATE SET reserved ="
                                          " svc_rpc_downlink.reserved + excluded.reserved RETURNING reserved",
                                          (device_id, self.block)).fetchone()
                end = int(row[0]) + 1
                nxt = end - self.block
            self._ranges[device_id] = (nxt + 1, end)
            return nxt


class Responder:
    def __init__(self, directory: Directory, db: ServicesDb, dispatcher: Dispatcher, stats: IngestStats,
                 clock: Callable[[], float] = time.time) -> None:
        self.directory, self.db, self.dispatcher, self.stats, self.clock = directory, db, dispatcher, stats, clock
        self.counters = ResponseCounters(db)
        # in every response nonce: counters restart with a recreated services database, the epoch never repeats
        self.epoch = os.urandom(cose.EPOCH_LEN)

    def answer(self, msg: Inbound) -> Outbound | None:
        try:
            where = Topic.parse(msg.topic)
            if where.kind is not Kind.REQUEST:
                raise LinkError(f"{where.kind.value} is not a request topic")
            entry = self.directory.get(where.device_id)
            if entry is None or not entry.active:
                raise LinkError("unknown or revoked device")
            if envelope.peek(msg.payload).kid != where.device_id:
                raise LinkError("envelope kid is not the topic's device")
            keys = rpc.rpc_keys(entry.keys)
            request = rpc.open_request(keys.request, msg.topic, msg.payload)
        except LinkError as exc:
            self.stats.add("rpc_refused_unauthentic")
            log.warning("request on %r refused: %s", msg.topic[:120], exc)
            return None
        device_id = where.device_id
        if msg.response_topic != topic(device_id, Kind.RESPONSE) or msg.correlation is None \
                or msg.correlation.hex() != request.corr:
            self.stats.add("rpc_refused_properties")
            log.warning("%s: request refused: response topic or correlation data do not match", device_id)
            return None
        if not self._fresh(request.window_key, request.counter):  # per (device, boot epoch)
            self.stats.add("rpc_refused_replay")
            log.warning("%s: request refused: counter %d already used (replay)", device_id, request.counter)
            return None
        started = time.monotonic()
        try:
            ok, result = self.dispatcher.handle(device_id, request.method, request.args, request.idem)
        except Exception as exc:  # a bug must not leave the kiosk waiting for a timeout, nor leak details
            self.stats.add("rpc_internal_errors")
            log.exception("%s: %s failed", device_id, request.method)
            ok, result = False, {"code": "internal-error", "message": exc.__class__.__name__}
        self.stats.add("rpc_answered")
        log.info("%s: %s answered %s in %.0f ms", device_id, request.method, "ok" if ok else result.get("code"),
                 (time.monotonic() - started) * 1000)
        now_ms = int(self.clock() * 1000)
        counter = self.counters.next(device_id)
        if ok:
            payload = rpc.seal_response(keys.response, device_id, counter, request.corr, result=result, now_ms=now_ms,
                                        epoch=self.epoch)
        else:
            payload = rpc.seal_response(keys.response, device_id, counter, request.corr,
                                        error=(result["code"], result["message"]), now_ms=now_ms, epoch=self.epoch)
        return Outbound(topic(device_id, Kind.RESPONSE), payload, msg.correlation)

    def _fresh(self, device_id: str, counter: int) -> bool:
        with self.db.write():
            row = self.db.execute(f"SELECT high, bitmap FROM svc_rpc_windows WHERE device_id = ?{self.db.lock_suffix}",
                                  (device_id,)).fetchone()
            window = ReplayWindow.from_row(int(row[0]), bytes(row[1])) if row else ReplayWindow()
            if window.check(counter) is not Verdict.FRESH:
                return False
            window = window.accept(counter)
            self.db.execute("INSERT INTO svc_rpc_windows (device_id, high, bitmap) VALUES (?, ?, ?) ON CONFLICT"
                            " (device_id) DO UPDATE SET high = excluded.high, bitmap = excluded.bitmap",
                            (device_id, window.high, window.to_bytes()))
        return True
