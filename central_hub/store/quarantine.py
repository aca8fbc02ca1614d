"""Quarantine quotas: what one device (or the unattributable rest) may keep in quarantine.

Each device has a quota of rows and of payload bytes; `None` (a message no device can be named
for) shares one bucket. An item that would go past the quota, or any new item while the disk
is low, is not kept but counted in `quarantine_overflow` (per device and reason), and shown as
a hub fault; an item identical to one already kept only bumps that row's count. Rows are kept
for RETENTION_DAYS after they were last seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from central_hub.store.model import HubFault, QuarantineItem

if TYPE_CHECKING:
    from central_hub.store.base import Store

RETENTION_DAYS = 30
RETENTION_MS = RETENTION_DAYS * 86_400_000
OVERFLOW_FAULTS = "quarantine-quota"  # hub_faults source
NO_DEVICE = ""  # overflow bucket of messages no device can be named for

_UPSERT_OVERFLOW = (
    "INSERT INTO quarantine_overflow (device_id, reason, dropped, dropped_bytes, first_at_ms, last_at_ms)"
    " VALUES (?, ?, 1, ?, ?, ?) ON CONFLICT (device_id, reason) DO UPDATE SET"
    " dropped = quarantine_overflow.dropped + 1,"
    " dropped_bytes = quarantine_overflow.dropped_bytes + excluded.dropped_bytes, last_at_ms = excluded.last_at_ms")


@dataclass(frozen=True)
class QuarantineQuota:
    rows: int = 1000  # per device
    bytes: int = 8 << 20  # per device, sealed payload bytes

    def admits(self, used: tuple[int, int], size: int) -> bool:
        return used[0] + 1 <= self.rows and used[1] + size <= self.bytes


def use(store: Store, device_id: str | None) -> tuple[int, int]:
    """(rows, payload bytes) the device holds in quarantine now."""
    where = "device_id IS NULL" if device_id is None else "device_id = ?"
    row = store.execute(f"SELECT count(*), coalesce(sum(length(payload)), 0) FROM quarantine WHERE {where}",
                        () if device_id is None else (device_id,)).fetchone()
    return int(row[0]), int(row[1])


def kept_already(store: Store, fingerprint: str) -> bool:
    return store.execute("SELECT 1 FROM quarantine WHERE fingerprint = ?", (fingerprint,)).fetchone() is not None


def count_overflow(store: Store, items: Sequence[QuarantineItem]) -> None:
    store.executemany(_UPSERT_OVERFLOW, [(q.device_id or NO_DEVICE, q.reason, len(q.payload), q.received_at_ms,
                                          q.received_at_ms) for q in items])


def overflow_faults(rows: Sequence[Sequence[Any]]) -> list[HubFault]:
    """Rows of quarantine_overflow (device, reason, dropped, bytes, first_at_ms) as hub faults."""
    return [HubFault(OVERFLOW_FAULTS, r[0] or "(no device)",
                     f"{int(r[2])} message(s) over the quarantine quota not kept ({r[1]}, {int(r[3])} bytes)",
                     int(r[4])) for r in rows]
