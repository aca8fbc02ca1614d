"""What the hub did with one inbound MQTT message, and the quarantine reasons it may give."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    STORED = "stored"  # at least one record newly stored (others may be duplicates or held)
    DUPLICATE = "duplicate"  # a resend: every record already stored; re-acknowledged
    HELD = "held"  # authentic and fresh, but every record kept in quarantine; acknowledged as held
    REDELIVERED = "redelivered"  # broker redelivery (DUP) of an envelope already taken; re-acknowledged
    STATE = "state"  # fleet state applied (never acknowledged: state is not an outbox record)
    QUARANTINED = "quarantined"  # rejected as a whole; not acknowledged


class Reason(StrEnum):
    TOO_LARGE = "too-large"
    BAD_TOPIC = "bad-topic"
    MALFORMED = "malformed"
    UNSUPPORTED_ALG = "unsupported-alg"
    BAD_COUNTER = "bad-counter"
    KID_MISMATCH = "kid-mismatch"  # a device speaking for another
    UNKNOWN_DEVICE = "unknown-device"
    REGISTRY_UNREADABLE = "registry-unreadable"  # its registry file exists but does not read: refused
    REVOKED_DEVICE = "revoked-device"
    AUTH_FAILED = "auth-failed"  # forged, tampered, wrong key or moved to another topic
    REPLAY = "replay"
    STALE_COUNTER = "stale-counter"
    STALE_EPOCH = "stale-epoch"  # an envelope of a boot epoch the device has left behind: a replay
    UNKNOWN_SCHEMA = "unknown-schema"
    WRONG_TOPIC_KIND = "wrong-topic-kind"  # e.g. state/1 on a records topic, a record on state
    SCHEMA_INVALID = "schema-invalid"
    BAD_TIME = "bad-time"
    INTERNAL_ERROR = "internal-error"
    STORE_ERROR = "store-error"  # the store refused this message alone (kept here instead)
    ID_REUSED = "id-reused"  # a record id already stored with other content (a restored or lost outbox)
    QUARANTINE_FULL = "quarantine-full"  # the device's quarantine quota is spent: counted, not kept, not acked


ACKED = frozenset({Status.STORED, Status.DUPLICATE, Status.HELD, Status.REDELIVERED})


@dataclass(frozen=True)
class Outcome:
    status: Status
    device_id: str | None = None
    reason: str | None = None  # why the message as a whole was quarantined
    stored: tuple[int, ...] = ()  # msg ids newly stored
    duplicates: tuple[int, ...] = ()  # msg ids already stored (resend or redelivery)
    held: tuple[int, ...] = ()  # msg ids kept in quarantine (one quarantine row per envelope)
    held_reasons: tuple[str, ...] = ()  # parallel to `held`
    acked: bool = False  # whether the device gets an ack/1 for it
    rebirth: bool = False  # whether to send the device a rebirth request
    floor: int | None = None  # record ids were reused: the highest id the hub holds, sent in the ack

    @property
    def ack_ok(self) -> tuple[int, ...]:
        return self.stored + self.duplicates

    @property
    def records(self) -> int:
        return len(self.stored) + len(self.duplicates) + len(self.held)
