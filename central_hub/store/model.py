"""Values that cross the store boundary."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FleetRow:
    device_id: str
    online: bool = False
    bdseq: int | None = None
    seq: int | None = None
    births: int = 0
    birth_at_ms: int | None = None
    last_seen_ms: int | None = None
    firmware: str | None = None
    kind: str | None = None
    queue_depth: int | None = None
    records_stored: int = 0
    rebirth_requested_ms: int | None = None
    # reported in state/1 (central_hub.fleet): the presence expiry, health and alarm summary
    state_at_ms: int | None = None  # last birth or heartbeat: what keeps a device "online"
    heartbeat_s: int | None = None  # the interval the device declares
    oldest_record_age_s: int | None = None
    faults: str | None = None  # canonical JSON list of the faults active at the last state message
    alarm_beds: int | None = None
    alarm_highest: str | None = None
    # results of commands carried by the message just applied; written to `commands`, not a column
    command_results: tuple[tuple[int, str, str], ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class FleetEvent:
    """One line of a device's history (central_hub.fleet.changes)."""

    device_id: str
    at_ms: int
    event: str  # online, offline, firmware, fault-raised, fault-cleared, alarms, command-result
    detail: str


FLEET_COLUMNS = ("device_id", "online", "bdseq", "seq", "births", "birth_at_ms", "last_seen_ms", "firmware",
                 "kind", "queue_depth", "records_stored", "rebirth_requested_ms", "state_at_ms", "heartbeat_s",
                 "oldest_record_age_s", "faults", "alarm_beds", "alarm_highest")


# A record row on the hot path is a plain tuple in this column order (no per-record object).
RECORD_COLUMNS = ("device_id", "msg_id", "schema_id", "made_at_ms", "sealed_at_ms", "received_at_ms", "key_id",
                  "nonce", "body", "digest")  # body sealed with the hub data key, AAD = record_aad(device_id, msg_id)
# digest: of the record's content (record_digest), so a record id already stored with other content is
# told from a resend (a device whose outbox was restored hands out old ids again)
RecordTuple = tuple[str, int, str, int | None, int | None, int, int, bytes, bytes, str]


@dataclass(frozen=True)
class QuarantineItem:
    fingerprint: str  # identical items share it and are counted, not repeated
    reason: str
    detail: str
    topic: str
    device_id: str | None
    msg_id: int | None
    received_at_ms: int
    key_id: int
    nonce: bytes
    payload: bytes  # sealed with the hub data key, AAD = quarantine_aad(fingerprint)
    schema_id: str | None = None  # of held records (payload = their CBOR array): what a release re-checks


@dataclass(frozen=True)
class QuarantineRow:
    id: int
    reason: str
    detail: str
    topic: str
    device_id: str | None
    msg_id: int | None
    first_at_ms: int
    last_at_ms: int
    seen: int
    schema_id: str | None = None  # set for held records (payload = their CBOR array), None for a whole message


@dataclass(frozen=True)
class HubFault:
    """A fact the hub itself reports for the fleet view, e.g. ("registry", "._kiosk-001.json", why)."""

    source: str  # registry | disk | device-reset
    subject: str  # a file name, a path, a device id
    detail: str
    since_ms: int


def record_digest(made_at_ms: int | None, body_cbor: bytes) -> str:
    """128 bits of SHA-256 over the record's time and CBOR body, hex."""
    return hashlib.sha256(b"%d\0" % (made_at_ms if made_at_ms is not None else -1) + body_cbor).hexdigest()[:32]


def record_aad(device_id: str, msg_id: int) -> bytes:
    return f"rec/{device_id}/{msg_id}".encode()


def quarantine_aad(fingerprint: str) -> bytes:
    return f"quarantine/{fingerprint}".encode()
