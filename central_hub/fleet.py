"""Fleet state in the Sparkplug B session pattern, as pure functions over a device's FleetRow.

- birth: the device is online under a new bdseq; its seq restarts from the birth's seq.
- death (the last will, or a graceful goodbye): counts only if its bdseq is the current birth's;
  a late will from an earlier connection is ignored (Sparkplug tck: NDEATH bdSeq must match).
- heartbeat: seq must follow the previous state message (mod 256), under the current bdseq;
  otherwise the hub asks for a rebirth, as it does for data from a device with no known birth.
Rebirth requests are rate-limited per device.

Beyond Sparkplug: a device is online only while birth/heartbeat messages of its current session
keep arriving (`presence`); heartbeats report the outbox's oldest record age, active faults, a
station's alarm summary and the results of commands; `changes` turns two rows into history.
"""

from __future__ import annotations

import json
from dataclasses import replace
from enum import StrEnum
from typing import Any

from central_hub.store.model import FleetEvent, FleetRow

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
    extras = _reported(body)
    if event == Event.BIRTH:
        return replace(base, online=True, bdseq=bdseq, seq=seq, births=base.births + 1, birth_at_ms=received_at_ms,
                       last_seen_ms=received_at_ms, state_at_ms=received_at_ms, **extras), Effect.APPLIED
    if event == Event.DEATH:
        if base.online and base.bdseq == bdseq:
            return replace(base, online=False, last_seen_ms=received_at_ms), Effect.APPLIED
        return base, Effect.STALE_DEATH
    in_session = base.online and base.bdseq == bdseq and base.seq is not None
    follows = in_session and base.seq is not None and seq == (base.seq + 1) % SEQ_MODULO
    updated = replace(base, seq=seq, last_seen_ms=received_at_ms, **extras)
    if in_session:  # a heartbeat of the session the hub knows keeps the device online
        updated = replace(updated, state_at_ms=received_at_ms)
    return updated, (Effect.APPLIED if follows else Effect.GAP)


def _reported(body: dict[str, Any]) -> dict[str, Any]:
    """FleetRow fields a birth or heartbeat reports (a field the device leaves out keeps its value,
    except faults and command results, which a message reports in full)."""
    out: dict[str, Any] = {k: body[k] for k in ("firmware", "kind", "queue_depth", "heartbeat_s",
                                                  "oldest_record_age_s") if k in body}
    if "faults" in body:
        out["faults"] = faults_json(body["faults"])
    if "alarms" in body:
        out.update(alarm_beds=body["alarms"]["beds_in_alarm"], alarm_highest=body["alarms"]["highest"])
    out["command_results"] = tuple((r["id"], r["status"], r.get("detail", "")) for r in body.get("command_results", ()))
    return out


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


# -- presence: online only while heartbeats of the current session keep arriving ---------------
DEFAULT_HEARTBEAT_S = 30
EXPIRY_HEARTBEATS = 3  # a device is "silent" (treated as offline) after three missed heartbeats


class Presence(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"  # its death (last will or goodbye) arrived
    SILENT = "silent"  # no death, but no birth/heartbeat within the expiry: offline for the operator
    NEVER_SEEN = "never-seen"


def expires_at_ms(row: FleetRow) -> int | None:
    """When an online device becomes silent unless another birth or heartbeat arrives.

    Only state messages of the current session count: data, or an MQTT connection kept open by
    keep-alives alone (a hung application whose network thread still answers PINGREQ), do not."""
    if not row.online or row.state_at_ms is None:
        return None
    return row.state_at_ms + EXPIRY_HEARTBEATS * (row.heartbeat_s or DEFAULT_HEARTBEAT_S) * 1000


def presence(row: FleetRow | None, now_ms: int) -> Presence:
    if row is None or row.last_seen_ms is None:
        return Presence.NEVER_SEEN
    if not row.online:
        return Presence.OFFLINE
    expiry = expires_at_ms(row)
    return Presence.ONLINE if expiry is not None and now_ms <= expiry else Presence.SILENT


# -- faults and history -----------------------------------------------------------------------
def faults_json(faults: list[dict[str, Any]]) -> str:
    """Canonical text of a reported fault list (one entry per code, sorted), for the fleet row."""
    by_code = {f["code"]: {k: f[k] for k in ("code", "severity", "since_ms", "detail") if k in f} for f in faults}
    return json.dumps([by_code[c] for c in sorted(by_code)], sort_keys=True, ensure_ascii=False)


def faults_of(row: FleetRow | None) -> list[dict[str, Any]]:
    if row is None or not row.faults:
        return []
    value = json.loads(row.faults)
    return value if isinstance(value, list) else []


def changes(before: FleetRow | None, after: FleetRow) -> list[FleetEvent]:
    """What an operator wants in a device's history when `before` becomes `after`."""
    at = after.last_seen_ms or 0
    out: list[FleetEvent] = []

    def add(event: str, detail: str) -> None:
        out.append(FleetEvent(after.device_id, at, event, detail))

    was_online = before is not None and before.online
    if after.online and (not was_online or (before is not None and before.bdseq != after.bdseq)):
        add("online", f"birth bdseq {after.bdseq}" + (f", firmware {after.firmware}" if after.firmware else ""))
    elif was_online and not after.online:
        add("offline", "death (last will or goodbye)")
    if before is not None and before.firmware and after.firmware and before.firmware != after.firmware:
        add("firmware", f"{before.firmware} -> {after.firmware}")
    old = {f["code"]: f for f in faults_of(before)}
    new = {f["code"]: f for f in faults_of(after)}
    for code in sorted(new.keys() - old.keys()):
        f = new[code]
        add("fault-raised", f"{code} ({f['severity']})" + (f": {f['detail']}" if f.get("detail") else ""))
    for code in sorted(old.keys() - new.keys()):
        add("fault-cleared", code)
    if (before.alarm_highest if before else None) != after.alarm_highest and after.alarm_highest is not None:
        add("alarms", f"{after.alarm_beds} beds in alarm, highest {after.alarm_highest}")
    for command_id, status, detail in after.command_results:
        add("command-result", f"#{command_id} {status}" + (f": {detail}" if detail else ""))
    return out
