"""Fleet state in the Sparkplug B session pattern, as pure functions over a device's FleetRow.

- birth: the device is online under a new bdseq; its seq restarts from the birth's seq.
- death (the last will, or a graceful goodbye): counts only if its bdseq is the current birth's;
  a late will from an earlier connection is ignored (Sparkplug tck: NDEATH bdSeq must match).
- heartbeat: seq must follow the previous state message (mod 256), under the current bdseq;
  otherwise the hub asks for a rebirth, as it does for data from a device with no known birth.
Rebirth requests are rate-limited per device.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from typing import Any

from central_hub.store.model import FleetRow

SEQ_MODULO = 256
REBIRTH_MIN_INTERVAL_MS = 10_000


class Event(StrEnum):
    BIRTH = "birth"
    DEATH = "death"
    HEARTBEAT = "heartbeat"


class Effect(StrEnum):
    APPLIED = "applied"
    STALE_DEATH = "stale-death"  # bdseq of an earlier connection: ignored
    GAP = "gap"  # applied, but the hub lost track: ask for a rebirth


def apply_state(row: FleetRow | None, device_id: str, body: dict[str, Any], received_at_ms: int) -> tuple[FleetRow, Effect]:
    """Apply one validated state/1 body."""
    base = row or FleetRow(device_id)
    event, bdseq, seq = body["event"], body["bdseq"], body["seq"]
    extras = {k: body[k] for k in ("firmware", "kind", "queue_depth") if k in body}
    if event == Event.BIRTH:
        return replace(base, online=True, bdseq=bdseq, seq=seq, births=base.births + 1, birth_at_ms=received_at_ms,
                       last_seen_ms=received_at_ms, **extras), Effect.APPLIED
    if event == Event.DEATH:
        if base.online and base.bdseq == bdseq:
            return replace(base, online=False, last_seen_ms=received_at_ms), Effect.APPLIED
        return base, Effect.STALE_DEATH
    in_session = base.online and base.bdseq == bdseq and base.seq is not None
    follows = in_session and base.seq is not None and seq == (base.seq + 1) % SEQ_MODULO
    updated = replace(base, seq=seq, last_seen_ms=received_at_ms, **extras)
    return updated, (Effect.APPLIED if follows else Effect.GAP)


def seen_data(row: FleetRow | None, device_id: str, received_at_ms: int, stored: int) -> tuple[FleetRow, bool]:
    """A data message arrived: (updated row, whether the hub knows no birth for this device)."""
    base = row or FleetRow(device_id)
    return (replace(base, last_seen_ms=received_at_ms, records_stored=base.records_stored + stored),
            base.bdseq is None)


def claim_rebirth(row: FleetRow, received_at_ms: int) -> tuple[FleetRow, bool]:
    """Whether to send a rebirth request now (at most one per REBIRTH_MIN_INTERVAL_MS)."""
    last = row.rebirth_requested_ms
    if last is not None and 0 <= received_at_ms - last < REBIRTH_MIN_INTERVAL_MS:
        return row, False
    return replace(row, rebirth_requested_ms=received_at_ms), True
