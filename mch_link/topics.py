"""The versioned MQTT topic namespace: ``mch/v1/<device_id>/<kind>``.

The device id is a whole topic level so that broker ACL patterns (``%u`` = certificate CN)
confine each device to its own subtree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from mch_link.errors import TopicError

ROOT = "mch"
VERSION = "v1"
PREFIX = f"{ROOT}/{VERSION}"
HUB_ID = "hub"
DEVICE_ID_RE = re.compile(r"^[a-z][a-z0-9-]{2,31}$")


class Kind(StrEnum):
    """What travels on a device's topic."""

    RECORDS = "rec"  # kiosk transactions, episodes, generic records (device -> hub)
    CTG = "ctg"  # CTG sample batches (device -> hub)
    ALARMS = "alarm"  # alarms and acknowledgements of alarms (device -> hub)
    STATE = "state"  # birth / death (last will) / heartbeat (device -> hub)
    ACK = "ack"  # application acknowledgements (hub -> device)
    CMD = "cmd"  # commands, e.g. rebirth request (hub -> device)
    REQUEST = "req"  # interactive service requests (device -> hub), see mch_link.rpc
    RESPONSE = "rsp"  # their answers (hub -> device)


INGEST_KINDS = frozenset({Kind.RECORDS, Kind.CTG, Kind.ALARMS, Kind.STATE})  # stored by the hub's record path
UPLINK_KINDS = INGEST_KINDS | {Kind.REQUEST}
DOWNLINK_KINDS = frozenset({Kind.ACK, Kind.CMD, Kind.RESPONSE})


def validate_device_id(device_id: str) -> str:
    if not isinstance(device_id, str) or not DEVICE_ID_RE.fullmatch(device_id) or device_id.startswith(HUB_ID):
        raise TopicError(f"invalid device id {device_id!r}: want {DEVICE_ID_RE.pattern}, not starting {HUB_ID!r}")
    return device_id


@dataclass(frozen=True)
class Topic:
    device_id: str
    kind: Kind

    def __post_init__(self) -> None:
        validate_device_id(self.device_id)

    def __str__(self) -> str:
        return f"{PREFIX}/{self.device_id}/{self.kind.value}"

    @classmethod
    def parse(cls, topic: str) -> Topic:
        parts = topic.split("/")
        if len(parts) != 4 or parts[0] != ROOT or parts[1] != VERSION:
            raise TopicError(f"topic {topic!r} is not under {PREFIX}/<device>/<kind>")
        try:
            kind = Kind(parts[3])
        except ValueError:
            raise TopicError(f"topic {topic!r}: unknown kind {parts[3]!r}") from None
        return cls(parts[2], kind)


def topic(device_id: str, kind: Kind) -> str:
    return str(Topic(device_id, kind))


def uplink_filter(kind: Kind | None = None, share_group: str | None = None) -> str:
    """Subscription filter for the hub; with a share group, workers split the load."""
    f = f"{PREFIX}/+/{kind.value if kind else '+'}"
    return f"$share/{share_group}/{f}" if share_group else f
