"""The fleet table as the dashboard shows it: pure functions from fleet rows + registry to view rows.

No I/O and no HTML here: the page, the live stream, the metrics and the tests all read these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from central_hub import fleet
from central_hub.fleet import Presence
from central_hub.store.model import FleetRow, HubFault
from mch_link.registry import RegistryEntry

CERT_WARN_DAYS = 30
PRIORITY_ORDER = {"none": 0, "low": 1, "medium": 2, "high": 3}


@dataclass(frozen=True)
class DeviceView:
    device_id: str
    site: str
    kind: str | None
    presence: Presence
    registered: bool
    revoked: bool
    last_seen_ms: int | None
    state_at_ms: int | None
    expires_at_ms: int | None
    firmware: str | None
    queue_depth: int | None
    oldest_record_age_s: int | None
    cert_not_after: datetime | None
    cert_days_left: int | None
    faults: tuple[dict[str, Any], ...]
    alarm_beds: int | None
    alarm_highest: str | None
    records_stored: int
    births: int

    @property
    def cert_warning(self) -> bool:
        return self.cert_days_left is not None and self.cert_days_left <= CERT_WARN_DAYS

    @property
    def worst_fault(self) -> str | None:
        order = {"info": 0, "warning": 1, "critical": 2}
        return max((f["severity"] for f in self.faults), key=lambda s: order.get(s, 0), default=None)

    def signature(self) -> tuple[Any, ...]:
        """What the row shows: the live stream sends a row again only when this changes."""
        return (self.presence, self.revoked, self.last_seen_ms, self.firmware, self.queue_depth,
                self.oldest_record_age_s, self.cert_days_left, self.faults, self.alarm_beds, self.alarm_highest)


def device_view(device_id: str, row: FleetRow | None, entry: RegistryEntry | None, site: str,
                now_ms: int, hub_faults: tuple[HubFault, ...] = ()) -> DeviceView:
    """`hub_faults`: what the hub itself reports about this device (a reset detected, quarantine overflow)."""
    days_left = None
    if entry is not None:
        days_left = int((entry.not_after.timestamp() * 1000 - now_ms) // 86_400_000)
    return DeviceView(
        device_id=device_id, site=site, kind=entry.kind.value if entry else (row.kind if row else None),
        presence=fleet.presence(row, now_ms), registered=entry is not None,
        revoked=entry is not None and not entry.active,
        last_seen_ms=row.last_seen_ms if row else None, state_at_ms=row.state_at_ms if row else None,
        expires_at_ms=fleet.expires_at_ms(row) if row else None,
        firmware=row.firmware if row else None, queue_depth=row.queue_depth if row else None,
        oldest_record_age_s=row.oldest_record_age_s if row else None,
        cert_not_after=entry.not_after if entry else None, cert_days_left=days_left,
        faults=tuple(fleet.faults_of(row)) + tuple(_as_fault(f) for f in hub_faults), alarm_beds=row.alarm_beds if row else None,
        alarm_highest=row.alarm_highest if row else None, records_stored=row.records_stored if row else 0,
        births=row.births if row else 0)


def _as_fault(f: HubFault) -> dict[str, Any]:
    """A hub fact about a device, shown like the device's own faults (code = its source)."""
    return {"code": f.source, "severity": "warning", "since_ms": f.since_ms, "detail": f.detail, "by": "hub"}


def split_hub_faults(faults: Iterable[HubFault], device_ids: Iterable[str]) -> tuple[dict[str, tuple[HubFault, ...]],
                                                                                     list[HubFault]]:
    """(per device, about the hub itself): a fault whose subject is a device id belongs to that device."""
    known = set(device_ids)
    per_device: dict[str, list[HubFault]] = {}
    hub: list[HubFault] = []
    for f in faults:
        if f.subject in known:
            per_device.setdefault(f.subject, []).append(f)
        else:
            hub.append(f)
    return {d: tuple(fs) for d, fs in per_device.items()}, hub


@dataclass(frozen=True)
class FleetFilter:
    site: str = ""
    kind: str = ""
    state: str = ""  # a Presence value, or ""
    fault: str = ""  # "", "any", "none", or a fault code
    query: str = ""  # part of the device id

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> FleetFilter:
        def get(name: str) -> str:
            return str(params.get(name, ""))[:64]

        return cls(get("site"), get("kind"), get("state"), get("fault"), get("q").strip().lower())

    def matches(self, v: DeviceView) -> bool:
        if self.site and v.site != self.site:
            return False
        if self.kind and v.kind != self.kind:
            return False
        if self.state and v.presence.value != self.state:
            return False
        if self.fault == "any" and not v.faults:
            return False
        if self.fault == "none" and v.faults:
            return False
        if self.fault not in ("", "any", "none") and all(f["code"] != self.fault for f in v.faults):
            return False
        return not self.query or self.query in v.device_id

    def params(self) -> dict[str, str]:
        return {k: v for k, v in (("site", self.site), ("kind", self.kind), ("state", self.state),
                                  ("fault", self.fault), ("q", self.query)) if v}


@dataclass(frozen=True)
class Summary:
    total: int
    by_presence: dict[str, int]
    with_faults: int
    cert_warnings: int
    stations_in_alarm: int


def summary(views: Iterable[DeviceView]) -> Summary:
    counts = {p.value: 0 for p in Presence}
    total = faults = certs = alarms = 0
    for v in views:
        total += 1
        counts[v.presence.value] += 1
        faults += bool(v.faults)
        certs += v.cert_warning
        alarms += bool(v.alarm_beds)
    return Summary(total, counts, faults, certs, alarms)


def fault_codes(views: Iterable[DeviceView]) -> list[str]:
    return sorted({f["code"] for v in views for f in v.faults})
