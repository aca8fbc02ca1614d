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
from central_hub.replay import NO_COUNTER, ReplayWindow, Verdict
from central_hub.services.db import NO_EPOCH, ServicesDb
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
        verdict = self._fresh(request)
        if verdict is Verdict.SEEN:
            self.stats.add("rpc_refused_replay")
            log.warning("%s: request refused: counter %d already used (replay)", device_id, request.counter)
            return None
        if verdict is Verdict.STALE:
            self.stats.add("rpc_refused_stale")
            log.warning("%s: request refused: counter %d of epoch %s is stale (below its window, or the epoch"
                        " is retired)", device_id, request.counter, request.epoch.hex() or "-")
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

    def _fresh(self, request: rpc.Request) -> Verdict:
        """The request's counter in the window of its boot epoch. Only the device's current and
        previous epochs keep a window (one row per device, however many epochs it shows): a third
        epoch retires the oldest, and raises the device's floor to the first request of the epoch
        that becomes previous. Every request of a retired epoch was sealed before that one, so an
        unknown epoch sealed below the floor is a retired one replayed (stale), not a new boot."""
        epoch, counter = request.epoch.hex(), request.counter
        sealed = request.sealed_at_ms if request.sealed_at_ms is not None else NO_COUNTER
        with self.db.write():
            self.db.execute("INSERT INTO svc_rpc_epochs (device_id, epoch, high, bitmap, floor_ms) VALUES"
                            " (?, ?, ?, ?, ?) ON CONFLICT (device_id) DO NOTHING",
                            (request.device_id, NO_EPOCH, NO_COUNTER, b"", NO_COUNTER))
            row = self.db.execute("SELECT epoch, high, bitmap, first_ms, prev_epoch, prev_high, prev_bitmap, floor_ms"
                                  f" FROM svc_rpc_epochs WHERE device_id = ?{self.db.lock_suffix}",
                                  (request.device_id,)).fetchone()
            cur_epoch, prev_epoch, floor = str(row[0]), row[4], int(row[7])
            first = None if row[3] is None else int(row[3])
            if epoch == prev_epoch:
                window = ReplayWindow.from_row(int(row[5]), bytes(row[6]))
                verdict = window.check(counter)
                if verdict is Verdict.FRESH:
                    window = window.accept(counter)
                    self.db.execute("UPDATE svc_rpc_epochs SET prev_high = ?, prev_bitmap = ? WHERE device_id = ?",
                                    (window.high, window.to_bytes(), request.device_id))
                return verdict
            if epoch == cur_epoch:
                window = ReplayWindow.from_row(int(row[1]), bytes(row[2]))
                verdict = window.check(counter)
                if verdict is not Verdict.FRESH:
                    return verdict
            else:  # a new boot epoch, or a retired one replayed
                floor = max(floor, NO_COUNTER if first is None else first)
                if sealed < floor:
                    return Verdict.STALE
                if cur_epoch != NO_EPOCH:
                    self.db.execute("UPDATE svc_rpc_epochs SET prev_epoch = epoch, prev_high = high,"
                                    " prev_bitmap = bitmap WHERE device_id = ?", (request.device_id,))
                window, first = ReplayWindow(), None
            window = window.accept(counter)
            first = sealed if first is None else min(first, sealed)
            self.db.execute("UPDATE svc_rpc_epochs SET epoch = ?, high = ?, bitmap = ?, first_ms = ?, floor_ms = ?"
                            " WHERE device_id = ?",
                            (epoch, window.high, window.to_bytes(), first, floor, request.device_id))
        return Verdict.FRESH
