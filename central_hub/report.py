"""Plain-text tables for the operator CLI (status, quarantine, stats)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from wcwidth import wcswidth

from central_hub.fleet import faults_of, presence
from central_hub.store.model import FleetRow, HubFault, QuarantineRow
from mch_link.registry import RegistryEntry

# C0 and C1 controls, DEL, and the bidirectional overrides/isolates: what a device could use to rewrite
# the operator's terminal (an ESC sequence in its `firmware` string) or reorder what is shown.
_UNSAFE = {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"
           for c in (*range(0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def terminal_safe(value: Any) -> str:
    """`value` as text with every control character written as an escape: safe to print."""
    return str(value).translate(_UNSAFE)


def cell_width(text: str) -> int:
    """Columns `text` takes in a terminal: a CJK character takes two, so padding counts columns."""
    width = wcswidth(text)
    return len(text) if width < 0 else width


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["-" if v is None else terminal_safe(v) for v in row] for row in rows]
    widths = [max(cell_width(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c + " " * (w - cell_width(c)) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def when(ms: int | None, now_ms: int) -> str | None:
    if ms is None:
        return None
    stamp = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    ago = max(0, now_ms - ms) // 1000
    return f"{stamp} ({ago} s ago)" if ago < 86400 else stamp


def online_text(row: FleetRow | None, now_ms: int) -> str:
    """online, offline, silent (no heartbeat within its expiry: see central_hub.fleet.presence), never seen."""
    return presence(row, now_ms).value.replace("-", " ")


def fleet_table(fleet: Sequence[FleetRow], registry: Mapping[str, RegistryEntry], now_ms: int) -> str:
    by_id = {r.device_id: r for r in fleet}
    rows = []
    for device_id in sorted(set(by_id) | set(registry)):
        row, entry = by_id.get(device_id), registry.get(device_id)
        state = online_text(row, now_ms)
        if entry is not None and not entry.active:
            state += " (revoked)"
        elif entry is None:
            state += " (not registered)"
        rows.append([device_id, entry.kind.value if entry else (row.kind if row else None), state,
                     when(row.last_seen_ms, now_ms) if row else None, row.firmware if row else None,
                     row.queue_depth if row else None, entry.not_after.date().isoformat() if entry else None,
                     ",".join(f["code"] for f in faults_of(row)) or None, row.records_stored if row else 0])
    return table(["device", "kind", "state", "last seen (UTC)", "firmware", "queue", "cert expiry", "faults",
                  "records"], rows)


def hub_faults_table(faults: Sequence[HubFault], now_ms: int) -> str:
    """What the hub itself reports: bad registry files, low disk, device resets."""
    return table(["hub fault", "subject", "since (UTC)", "detail"],
                 [[f.source, f.subject, when(f.since_ms, now_ms), f.detail] for f in faults])


def fleet_json(fleet: Sequence[FleetRow], registry: Mapping[str, RegistryEntry], now_ms: int) -> list[dict[str, Any]]:
    by_id = {r.device_id: r for r in fleet}
    out = []
    for device_id in sorted(set(by_id) | set(registry)):
        row, entry = by_id.get(device_id), registry.get(device_id)
        item: dict[str, Any] = asdict(row) if row else {"device_id": device_id}
        item["state"] = online_text(row, now_ms)
        item["registered"] = entry is not None
        if entry is not None:
            item.update(kind=entry.kind.value, status=entry.status.value, cert_serial=entry.cert_serial,
                        cert_not_after=entry.not_after.isoformat())
        out.append(item)
    return out


def quarantine_table(items: Sequence[QuarantineRow], now_ms: int) -> str:
    rows = [[q.id, q.reason, q.device_id, q.msg_id, q.seen, when(q.last_at_ms, now_ms), q.topic, q.detail]
            for q in items]
    return table(["id", "reason", "device", "msg id", "seen", "last (UTC)", "topic", "detail"], rows)


def stats_text(records: int, quarantine: Mapping[str, int], fleet: Sequence[FleetRow],
               workers: Mapping[str, tuple[int, Mapping[str, Any]]], now_ms: int) -> str:
    online = sum(1 for r in fleet if online_text(r, now_ms) == "online")
    lines = [f"records stored: {records}", f"devices seen: {len(fleet)} (online {online})",
             f"quarantined: {sum(quarantine.values())}"]
    lines += [f"  {reason}: {n}" for reason, n in sorted(quarantine.items())]
    for worker, (updated_ms, counters) in sorted(workers.items()):
        lines.append(f"worker {worker} (updated {when(updated_ms, now_ms)}):")
        lines += [f"  {k}: {v}" for k, v in sorted(counters.items())]
    return "\n".join(lines)
