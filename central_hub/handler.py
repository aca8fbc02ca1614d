"""The pure message handler: topic + payload in, Outcome out; no I/O but the state interface.

Order of checks (each failure is quarantined with its reason, never raised, never dropped):
size -> topic -> envelope header -> kid == topic device -> registry (known, active) ->
decrypt (authenticity, integrity, topic binding) -> freshness (replay window, broker
redelivery) -> topic kind vs schema -> schema per record -> store (idempotent) or fleet state.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import cbor2

from central_hub import fleet
from central_hub.datakey import DataCipher
from central_hub.directory import Directory
from central_hub.errors import StoreError
from central_hub.outcome import Outcome, Reason, Status
from central_hub.replay import NO_COUNTER, ReplayWindow, Verdict
from central_hub.store.model import (
    FleetRow,
    QuarantineItem,
    RecordTuple,
    quarantine_aad,
    record_aad,
    record_digest,
)
from mch_link import envelope, schemas
from mch_link.envelope import Message, Record
from mch_link.errors import EnvelopeError, SchemaError, TopicError
from mch_link.topics import INGEST_KINDS, Kind, Topic

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 1 << 20
MAX_QUARANTINE_PAYLOAD_BYTES = 256 << 10
MAX_TEXT = 400  # topic and detail as stored in quarantine
MAX_MSG_ID = (1 << 63) - 1
MAX_TIME_MS = (1 << 63) - 1
STATE_SCHEMA = "state/1"
DOWNLINK_SCHEMAS = frozenset({"ack/1", "cmd/1"})
DEVICE_RESET_FAULTS = "device-reset"  # hub_faults source, one per device


@dataclass(frozen=True)
class Inbound:
    topic: str
    payload: bytes
    dup: bool
    received_at_ms: int


class IngestState(Protocol):
    """What the handler may read and write: `central_hub.store.Txn` implements it."""

    def window(self, device_id: str) -> ReplayWindow: ...
    def put_window(self, device_id: str, window: ReplayWindow) -> None: ...
    def envelope_digest(self, device_id: str, counter: int) -> bytes | None: ...
    def add_envelope(self, device_id: str, counter: int, digest: bytes, received_at_ms: int) -> None: ...
    def stored_ids(self, device_id: str, msg_ids: Sequence[int]) -> set[int]: ...
    def add_records(self, rows: list[RecordTuple]) -> None: ...
    def quarantine(self, item: QuarantineItem) -> bool: ...  # False: over the device's quota, only counted
    def epoch_retired(self, device_id: str, epoch: bytes) -> bool: ...
    def retire_epoch(self, device_id: str, epoch: bytes, at_ms: int) -> None: ...
    def stored_digests(self, device_id: str, msg_ids: Sequence[int]) -> dict[int, str | None]: ...
    def hub_fault(self, source: str, subject: str, detail: str, at_ms: int) -> None: ...
    def highest_id(self, device_id: str) -> int: ...
    def fleet(self, device_id: str) -> FleetRow | None: ...
    def put_fleet(self, row: FleetRow) -> None: ...


class Handler:
    def __init__(self, directory: Directory, cipher: DataCipher) -> None:
        self.directory = directory
        self.cipher = cipher

    def handle(self, state: IngestState, msg: Inbound) -> Outcome:
        """Never raises except StoreError (the batch is then rolled back and retried)."""
        try:
            return self._handle(state, msg)
        except StoreError:
            raise
        except Exception as exc:  # a bug must not stop ingest: keep the message, name the failure
            log.exception("handler failed on %r", _text(msg.topic))
            return self._reject(state, msg, Reason.INTERNAL_ERROR, exc.__class__.__name__)

    def _handle(self, state: IngestState, msg: Inbound) -> Outcome:
        if len(msg.payload) > MAX_PAYLOAD_BYTES:
            return self._reject(state, msg, Reason.TOO_LARGE, f"{len(msg.payload)} bytes > {MAX_PAYLOAD_BYTES}")
        try:
            where = Topic.parse(msg.topic)
        except TopicError as exc:
            return self._reject(state, msg, Reason.BAD_TOPIC, str(exc))
        device_id = where.device_id
        if where.kind not in INGEST_KINDS:  # requests have their own lane (central_hub/services), never stored here
            return self._reject(state, msg, Reason.BAD_TOPIC, f"{where.kind.value} is not a record kind", device_id)
        try:
            header = envelope.peek(msg.payload)
        except EnvelopeError as exc:
            return self._reject(state, msg, exc.reason, exc.detail, device_id)
        if header.kid != device_id:
            return self._reject(state, msg, Reason.KID_MISMATCH,
                                f"envelope kid {header.kid!r} on the topic of {device_id!r}", device_id)
        entry = self.directory.get(device_id)
        if entry is None:
            if self.directory.unreadable(device_id):
                return self._reject(state, msg, Reason.REGISTRY_UNREADABLE,
                                    "its registry file does not read; refused until it is fixed", device_id)
            return self._reject(state, msg, Reason.UNKNOWN_DEVICE, "not in the registry", device_id)
        if not entry.active:
            return self._reject(state, msg, Reason.REVOKED_DEVICE, f"status {entry.status.value}", device_id)
        try:
            opened = envelope.open_header(header, entry.keys.uplink, msg.topic, msg.payload)
        except EnvelopeError as exc:
            return self._reject(state, msg, exc.reason, exc.detail, device_id)
        if any(r.msg_id > MAX_MSG_ID for r in opened.records):
            return self._reject(state, msg, Reason.MALFORMED, "record id beyond 2**63-1", device_id)
        window = state.window(device_id)
        if opened.epoch != window.epoch:
            started = self._new_epoch(state, msg, opened, window)
            if started is None:  # an epoch the device left behind (a late last will of it is normal)
                if where.kind is Kind.STATE and _only_deaths(opened):
                    return self._state(state, msg, opened)
                return self._reject(state, msg, Reason.STALE_EPOCH,
                                    f"epoch {opened.epoch.hex()} of this device has ended", device_id)
            window = started
        verdict = window.check(opened.counter)
        digest = bytes.fromhex(opened.digest)
        if verdict is not Verdict.FRESH:
            if msg.dup and state.envelope_digest(device_id, opened.counter) == digest:
                return self._redelivered(state, where.kind, opened)
            if not (verdict is Verdict.STALE and where.kind is Kind.STATE and _only_deaths(opened)):
                return self._reject(state, msg, verdict.value, f"counter {opened.counter}, highest seen {window.high}",
                                    device_id)
        else:
            state.put_window(device_id, window.accept(opened.counter))
            state.add_envelope(device_id, opened.counter, digest, msg.received_at_ms)
        if where.kind is Kind.STATE:
            return self._state(state, msg, opened)
        return self._records(state, msg, opened, where.kind)

    def _new_epoch(self, state: IngestState, msg: Inbound, opened: Message,
                   window: ReplayWindow) -> ReplayWindow | None:
        """An authentic envelope of another boot epoch than the window's. One the device left behind is a
        replay (None); a new one starts a new window and retires the old epoch. A
        counter that went back under the new epoch means the device's counter store was lost or
        restored (outbox deleted, restored from a backup, disk replaced, board re-flashed): a hub fault."""
        device_id = opened.device_id
        if state.epoch_retired(device_id, opened.epoch):
            return None
        if window.high != NO_COUNTER:
            state.retire_epoch(device_id, window.epoch, msg.received_at_ms)
            if opened.counter <= window.high:
                state.hub_fault(DEVICE_RESET_FAULTS, device_id,
                                f"device reset detected: counter back from {window.high} to {opened.counter} under a"
                                " new boot epoch (outbox lost, restored or copied; board re-flashed)",
                                msg.received_at_ms)
        return ReplayWindow(epoch=opened.epoch)

    # -- records ------------------------------------------------------------------------
    def _records(self, state: IngestState, msg: Inbound, opened: Message, kind: Kind) -> Outcome:
        device_id, schema_id = opened.device_id, opened.schema
        whole = _whole_message_reason(schema_id, kind)
        held: list[tuple[Record, str, str]] = []
        good: list[Record] = []
        if whole:
            held = [(r, whole[0], whole[1]) for r in opened.records]
        else:
            for rec in opened.records:
                problem = _check_record(schema_id, rec)
                if problem:
                    held.append((rec, problem[0], problem[1]))
                else:
                    good.append(rec)
        already = state.stored_ids(device_id, [r.msg_id for r in good])
        stored_digests = state.stored_digests(device_id, sorted(already)) if already else {}
        rows: list[RecordTuple] = []
        duplicates: list[int] = []
        sealed_at = opened.sealed_at_ms if opened.sealed_at_ms is not None and 0 <= opened.sealed_at_ms <= MAX_TIME_MS \
            else None
        seal, key_id = self.cipher.seal, self.cipher.key_id
        for rec in good:
            plain = cbor2.dumps(rec.body)
            content = record_digest(rec.made_at_ms, plain)
            if rec.msg_id in already:
                known = stored_digests.get(rec.msg_id)
                if known is None or known == content:  # a resend (or a row from before digests were kept)
                    duplicates.append(rec.msg_id)
                else:  # the id was used before for something else: the device's outbox was restored or lost
                    held.append((rec, Reason.ID_REUSED, f"record id {rec.msg_id} already stored with other content"))
                continue
            already.add(rec.msg_id)
            stored_digests[rec.msg_id] = content
            _, nonce, body = seal(record_aad(device_id, rec.msg_id), plain)
            rows.append((device_id, rec.msg_id, schema_id, rec.made_at_ms, sealed_at, msg.received_at_ms, key_id,
                         nonce, body, content))
        state.add_records(rows)
        floor = None
        if any(reason == Reason.ID_REUSED for _, reason, _ in held):
            state.hub_fault(DEVICE_RESET_FAULTS, device_id, "device reset detected: record ids used again with other"
                            " content (kept in quarantine as id-reused)", msg.received_at_ms)
            floor = state.highest_id(device_id)
        if held and not self._hold(state, msg, device_id, schema_id, held):
            held = []  # over the device's quarantine quota: not acknowledged, so they stay on the device
        row, no_birth = fleet.seen_data(state.fleet(device_id), device_id, msg.received_at_ms, len(rows))
        rebirth = False
        if no_birth:
            row, rebirth = fleet.claim_rebirth(row, msg.received_at_ms)
        state.put_fleet(row)
        if not (rows or duplicates or held):
            return Outcome(Status.QUARANTINED, device_id, Reason.QUARANTINE_FULL, rebirth=rebirth)
        status = Status.STORED if rows else Status.DUPLICATE if duplicates else Status.HELD
        return Outcome(status, device_id, None, tuple(r[1] for r in rows), tuple(duplicates),
                       tuple(r.msg_id for r, _, _ in held), tuple(reason for _, reason, _ in held), True, rebirth,
                       floor if held else None)

    def _redelivered(self, state: IngestState, kind: Kind, opened: Message) -> Outcome:
        if kind is Kind.STATE:
            return Outcome(Status.REDELIVERED, opened.device_id)
        ids = [r.msg_id for r in opened.records]
        stored = state.stored_ids(opened.device_id, ids)
        return Outcome(Status.REDELIVERED, opened.device_id, duplicates=tuple(i for i in ids if i in stored),
                       held=tuple(i for i in ids if i not in stored), acked=True)

    # -- fleet state --------------------------------------------------------------------
    def _state(self, state: IngestState, msg: Inbound, opened: Message) -> Outcome:
        device_id = opened.device_id
        whole = _whole_message_reason(opened.schema, Kind.STATE)
        if whole:
            return self._reject(state, msg, whole[0], whole[1], device_id)
        row = state.fleet(device_id)
        rebirth = False
        held: list[tuple[Record, str, str]] = []
        for rec in opened.records:
            problem = _check_record(STATE_SCHEMA, rec)
            if problem:
                held.append((rec, problem[0], problem[1]))
                continue
            row, effect = fleet.apply_state(row, device_id, rec.body, msg.received_at_ms)
            if effect is fleet.Effect.GAP:
                row, claimed = fleet.claim_rebirth(row, msg.received_at_ms)
                rebirth = rebirth or claimed
        if held:
            self._hold(state, msg, device_id, opened.schema, held)  # state is never acknowledged: over quota it is only counted
        if row is not None:
            state.put_fleet(row)
        return Outcome(Status.STATE, device_id, held=tuple(r.msg_id for r, _, _ in held),
                       held_reasons=tuple(reason for _, reason, _ in held), rebirth=rebirth)

    # -- quarantine ---------------------------------------------------------------------
    def reject(self, state: IngestState, msg: Inbound, reason: str, detail: str) -> Outcome:
        """Quarantine `msg` as a whole without looking inside (used when the store refused it)."""
        return self._reject(state, msg, reason, detail)

    def _reject(self, state: IngestState, msg: Inbound, reason: str, detail: str,
                device_id: str | None = None) -> Outcome:
        payload = msg.payload[:MAX_QUARANTINE_PAYLOAD_BYTES]
        digest = hashlib.sha256(msg.payload).hexdigest()
        fingerprint = hashlib.sha256(f"{reason}\0{msg.topic}\0{digest}".encode(errors="replace")).hexdigest()
        key_id, nonce, sealed = self.cipher.seal(quarantine_aad(fingerprint), payload)
        state.quarantine(QuarantineItem(fingerprint, str(reason), _text(f"{detail} [sha256 {digest[:16]}]"),
                                        _text(msg.topic), device_id, None, msg.received_at_ms, key_id, nonce, sealed))
        return Outcome(Status.QUARANTINED, device_id, str(reason))

    def _hold(self, state: IngestState, msg: Inbound, device_id: str, schema_id: str,
              held: list[tuple[Record, str, str]]) -> bool:
        """Keep the held records of one envelope in one quarantine row (the first record's reason; the
        payload is the CBOR array of the held records, with their schema id beside it so that a release can
        check them again). False if the device's quota is spent."""
        plain = cbor2.dumps([rec.to_cbor_obj() for rec, _, _ in held])
        first, reason, detail = held[0]
        others = sorted({r for _, r, _ in held[1:]} - {reason})
        summary = f"{len(held)} record(s) held, ids {first.msg_id}..{held[-1][0].msg_id}; first: {detail}" + \
            (f"; also {', '.join(others)}" if others else "")
        fingerprint = hashlib.sha256(f"held\0{device_id}\0".encode() + plain).hexdigest()
        key_id, nonce, sealed = self.cipher.seal(quarantine_aad(fingerprint), plain)
        return state.quarantine(QuarantineItem(fingerprint, reason, _text(summary), _text(msg.topic), device_id,
                                               first.msg_id, msg.received_at_ms, key_id, nonce, sealed, schema_id))


def _whole_message_reason(schema_id: str, kind: Kind) -> tuple[str, str] | None:
    """A reason that applies to every record of the message, or None."""
    is_state = schema_id == STATE_SCHEMA
    if schema_id in DOWNLINK_SCHEMAS or is_state != (kind is Kind.STATE) or not schemas.allowed_on(schema_id, kind):
        return Reason.WRONG_TOPIC_KIND, f"schema {schema_id!r} on a {kind.value} topic"
    if not schemas.known(schema_id):
        return Reason.UNKNOWN_SCHEMA, f"schema {schema_id!r} is not known to this hub"
    return None


def _check_record(schema_id: str, rec: Record) -> tuple[str, str] | None:
    if rec.made_at_ms is not None and not 0 <= rec.made_at_ms <= MAX_TIME_MS:
        return Reason.BAD_TIME, f"record time {rec.made_at_ms} out of range"
    try:
        schemas.validate(schema_id, rec.body)
    except SchemaError as exc:
        return Reason.SCHEMA_INVALID, str(exc)
    return None


def recheck(schema_id: str, kind: Kind, rec: Record) -> tuple[str, str] | None:
    """(reason, detail) if `rec` would be held today on a `kind` topic, else None (a quarantine release)."""
    return _whole_message_reason(schema_id, kind) or _check_record(schema_id, rec)


def _only_deaths(opened: Message) -> bool:
    """A last will is sealed at CONNECT and may arrive long after: below the window is normal for it."""
    return opened.schema == STATE_SCHEMA and all(
        isinstance(r.body, dict) and r.body.get("event") == fleet.Event.DEATH for r in opened.records)


def _text(value: Any) -> str:
    """Safe to store and print: no NUL (PostgreSQL text refuses it), bounded length."""
    text = str(value).replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."


__all__ = ["Handler", "Inbound", "IngestState", "Outcome", "Reason", "Status", "recheck"]
