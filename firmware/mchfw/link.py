"""The device side of the link contract: outbox drained over MQTT, deleted only on ack/1.

Mirrors mch_link.device: records are packed (same kind and schema, up to batch_max) into
envelopes sealed under a fresh counter each transmission; at most `window` envelopes await the
hub's application acknowledgement; after a reconnect or ack_timeout everything unacknowledged
is sealed again. Fleet state (state/1): birth after connect, death as the last will with the
same bdseq, heartbeats with the queue depth, the running firmware, faults and the answers to
hub commands (commands.py). Downlink (ack, cmd, fw-chunk) opens with the downlink key; anything
that does not open is counted and ignored. An ack's `floor` (the hub holds records up to that
id: this flash was restored or re-flashed) moves new record ids above it.
"""

import os

from mchfw import cbor, envelope, mqtt
from mchfw import clock as ticks
from mchfw import commands as commands_mod
from mchfw.store import Store

PREFIX = "mch/v1/"
ACK_SCHEMA = "ack/1"
CMD_SCHEMA = "cmd/1"
CHUNK_SCHEMA = "fw-chunk/1"  # a piece of a firmware image offered by update-offer (fwupdate.py)
STATE_SCHEMA = "state/1"
STATE_RECORD_ID = 0
CTR_ENVELOPE = "ctr"
CTR_BDSEQ = "bdseq"
SEQ_MODULO = 256
MAX_RESEND_AFTER_MS = 900_000  # resend backoff cap while the hub does not answer


def topic(device_id: str, kind: str) -> str:
    return PREFIX + device_id + "/" + kind


class Link:
    def __init__(self, cfg, outbox, counters, robust, clock, window: int = 8, batch_max: int = 30,
                 ack_timeout_ms: int = 30000, heartbeat_ms: int = 30000, epoch=None, commands=None) -> None:
        self.cfg = cfg  # config.Config: device_id, kind, firmware, uplink/downlink keys
        self.commands = commands or commands_mod.Commands(Store(outbox.dir + "-commands"))
        self.commands.on("rebirth", lambda args, cid: (commands_mod.STATUS_DONE, ""))
        self.commands.on("resend", self._resend_command)
        self.firmware = None  # fn() -> running firmware "mchfw/X.Y.Z" (app: from the running slot)
        self.faults = None  # fn() -> [{"code", "severity", "detail"}] reported in births and heartbeats
        self.on_chunk = None  # fn(body) for fw-chunk/1 (fwupdate.Session.chunk)
        # a new random epoch per boot goes into every nonce: a re-flashed board or a lost counter file
        # never seals two messages under one nonce (docs/link-contract.md)
        self.epoch = epoch if epoch is not None else os.urandom(envelope.EPOCH_LEN)
        self.outbox, self.counters, self.robust, self.clock = outbox, counters, robust, clock
        self.window, self.batch_max = window, batch_max
        self.ack_timeout_ms, self.heartbeat_ms = ack_timeout_ms, heartbeat_ms
        self.resend_after_ms = ack_timeout_ms  # grows while the hub does not answer (next_resend_after_ms)
        self.inflight: dict = {}  # counter -> (msg_ids, sent_at_ms)
        self.cursor = 0
        self.bdseq = 0
        self.seq = 0
        self.last_heartbeat = clock.ticks()
        self.stats = {"envelopes": 0, "records": 0, "acked": 0, "resends": 0, "bad_downlink": 0, "births": 0}
        robust.on_connect = self._on_connect
        robust.on_disconnect = self._prepare_will
        robust.client.on_message = self._on_message
        self._prepare_will()

    # -- sealing ----------------------------------------------------------------------
    def _seal(self, kind: str, schema: str, records: list) -> bytes:
        t = topic(self.cfg.device_id, kind)
        counter = self.counters.next(CTR_ENVELOPE)
        return envelope.seal(self.cfg.uplink_key, self.cfg.uplink_iv, self.cfg.device_id, t, counter, schema,
                             records, self.clock.now_ms(), self.epoch)

    def _state(self, event: str) -> bytes:
        body = {"event": event, "bdseq": self.bdseq, "seq": self.seq % SEQ_MODULO}
        if event != "death":
            body["firmware"] = self.firmware() if self.firmware is not None else self.cfg.firmware
            body["kind"] = self.cfg.kind
            body["queue_depth"] = self.outbox.depth()
            body["uptime_s"] = self.clock.uptime_s()
            body["heartbeat_s"] = max(1, min(3600, self.heartbeat_ms // 1000))
            body["command_results"] = self.commands.take_results()
            if self.faults is not None:
                body["faults"] = self.faults()
            self.seq += 1
        return self._seal("state", STATE_SCHEMA, [(STATE_RECORD_ID, self.clock.now_ms(), body)])

    def _prepare_will(self) -> None:
        """The will carries the bdseq of the CONNECT it goes with: rebuilt before each connect."""
        self.bdseq = self.counters.bump(CTR_BDSEQ) % SEQ_MODULO
        self.robust.client.set_will(topic(self.cfg.device_id, "state"), self._state("death"), 1)

    # -- session events ---------------------------------------------------------------
    def _on_connect(self) -> None:
        client = self.robust.client
        client.subscribe(topic(self.cfg.device_id, "ack"), 1)
        client.subscribe(topic(self.cfg.device_id, "cmd"), 1)
        self._restart_sending()
        self.seq = 0
        self.stats["births"] += 1
        self.robust.publish(topic(self.cfg.device_id, "state"), self._state("birth"))

    def _restart_sending(self) -> None:
        if self.inflight:
            self.stats["resends"] += 1
        self.inflight = {}
        self.cursor = 0

    def _on_message(self, t: str, payload: bytes, dup: bool) -> None:
        try:
            hdr, records = envelope.open_envelope(payload, self.cfg.downlink_key, self.cfg.downlink_iv, t)
            if hdr["schema"] == ACK_SCHEMA and t == topic(self.cfg.device_id, "ack"):
                self._on_ack(records)
            elif hdr["schema"] == CMD_SCHEMA and t == topic(self.cfg.device_id, "cmd"):
                for _, _, body in records:
                    answered = self.commands.handle(body)
                    if body.get("command") == "rebirth":
                        self.robust.publish(topic(self.cfg.device_id, "state"), self._state("birth"))
                    elif answered:
                        self.publish_state()
            elif hdr["schema"] == CHUNK_SCHEMA and t == topic(self.cfg.device_id, "cmd") and self.on_chunk:
                for _, _, body in records:
                    self.on_chunk(body)  # type: ignore[operator]
            else:
                self.stats["bad_downlink"] += 1
        except (envelope.EnvelopeError, AttributeError, TypeError, ValueError):
            self.stats["bad_downlink"] += 1

    def publish_state(self) -> None:
        """A heartbeat now (it carries the answers to commands and the current faults)."""
        if self.robust.connected:
            self.robust.publish(topic(self.cfg.device_id, "state"), self._state("heartbeat"))

    def _resend_command(self, args, command_id):
        self._restart_sending()
        return commands_mod.STATUS_DONE, f"resending {self.outbox.depth()} records"

    def _on_ack(self, records: list) -> None:
        done: list = []
        for _, _, body in records:
            floor = body.get("floor")
            if isinstance(floor, int) and not isinstance(floor, bool) and floor > 0:
                self.outbox.raise_ids_above(floor)  # our ids were used before: go above the hub's
            for key in ("ok", "held"):
                ids = body.get(key)
                if isinstance(ids, list):
                    done.extend(i for i in ids if isinstance(i, int) and not isinstance(i, bool))
        self.stats["acked"] += self.outbox.ack(done)
        done_set = set(done)
        for counter in list(self.inflight):
            if all(i in done_set for i in self.inflight[counter][0]):
                del self.inflight[counter]
        self.resend_after_ms = self.ack_timeout_ms  # the hub answers: back to the normal timeout

    # -- sending ----------------------------------------------------------------------
    def service(self, timeout_ms: int = 0) -> None:
        self.robust.service(timeout_ms)
        if not self.robust.connected:
            return
        now = self.clock.ticks()
        for _, sent_at in self.inflight.values():
            if ticks.diff(now, sent_at) > self.resend_after_ms:
                self._restart_sending()
                self.resend_after_ms = next_resend_after_ms(self.resend_after_ms, self.ack_timeout_ms)
                break
        self._fill_window()
        if ticks.diff(now, self.last_heartbeat) >= self.heartbeat_ms:
            self.last_heartbeat = now
            self.robust.publish(topic(self.cfg.device_id, "state"), self._state("heartbeat"))

    def _fill_window(self) -> None:
        while self.robust.connected and len(self.inflight) < self.window:
            rows = self.outbox.pending(self.cursor, self.batch_max)
            if not rows:
                return
            kind, schema = rows[0][1], rows[0][2]
            batch = []
            for r in rows:
                if r[1] != kind or r[2] != schema:
                    break
                batch.append(r)
            records = [(r[0], r[3], cbor.Raw(r[4])) for r in batch]
            counter = self.counters.next(CTR_ENVELOPE)
            t = topic(self.cfg.device_id, kind)
            payload = envelope.seal(self.cfg.uplink_key, self.cfg.uplink_iv, self.cfg.device_id, t, counter,
                                    schema, records, self.clock.now_ms(), self.epoch)
            self.inflight[counter] = (tuple(r[0] for r in batch), self.clock.ticks())
            self.cursor = batch[-1][0]
            if not self.robust.publish(t, payload):
                return
            self.stats["envelopes"] += 1
            self.stats["records"] += len(batch)


def next_resend_after_ms(current_ms: int, base_ms: int) -> int:
    """As mch_link.device.next_resend_after: doubled per unanswered resend, capped, +-20 % jitter."""
    capped = min(current_ms * 2, max(base_ms, MAX_RESEND_AFTER_MS))
    return capped * (800 + (os.urandom(1)[0] * 400) // 255) // 1000


def is_mqtt_error(exc) -> bool:
    return isinstance(exc, mqtt.MQTTError)
