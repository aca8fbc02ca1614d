"""Prometheus text exposition for the hub: records, queue depths, quarantine, fleet, commands, feed.

Records per second is `rate(mch_hub_records_stored_total[1m])` (summed over workers): the
counters are each worker's own and restart at zero with it, which rate() handles.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from central_hub.web.fleet_view import summary

if TYPE_CHECKING:
    from central_hub.web.services import Dashboard

WORKER_COUNTERS = {"records_stored": "records stored", "records_duplicate": "duplicate records re-acknowledged",
                   "records_held": "records held in quarantine", "messages": "messages handled",
                   "store_retries": "batches retried while the store was unavailable"}
WORKER_GAUGES = {"queue_depth": "messages waiting in the network half", "batches_in_flight": "batches in the store half"}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(name: str, kind: str, help_text: str, samples: Iterable[tuple[str, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{labels} {value:g}" for labels, value in samples]
    return lines


def exposition(dash: Dashboard) -> str:
    out: list[str] = []
    workers = dash.store.worker_stats()
    for key, text in WORKER_COUNTERS.items():
        out += _family(f"mch_hub_{key}_total", "counter", f"{text} (per worker)",
                       [(f'{{worker="{_label(w)}"}}', float(c.get(key, 0))) for w, (_, c) in sorted(workers.items())])
    for key, text in WORKER_GAUGES.items():
        out += _family(f"mch_hub_worker_{key}", "gauge", text,
                       [(f'{{worker="{_label(w)}"}}', float(c.get(key, 0))) for w, (_, c) in sorted(workers.items())])
    out += _family("mch_hub_worker_stats_updated_seconds", "gauge", "when each worker last saved its counters",
                   [(f'{{worker="{_label(w)}"}}', at / 1000) for w, (at, _) in sorted(workers.items())])
    out += _family("mch_hub_quarantine_items", "gauge", "quarantined messages and records by reason (seen count)",
                   [(f'{{reason="{_label(r)}"}}', float(n)) for r, n in sorted(dash.store.quarantine_counts().items())])
    views = dash.live.views()
    s = summary(views)
    out += _family("mch_hub_devices", "gauge", "devices by presence",
                   [(f'{{state="{p}"}}', float(n)) for p, n in sorted(s.by_presence.items())])
    out += _family("mch_hub_devices_with_faults", "gauge", "devices reporting at least one fault",
                   [("", float(s.with_faults))])
    out += _family("mch_hub_devices_cert_expiring", "gauge", "certificates expiring within 30 days or expired",
                   [("", float(s.cert_warnings))])
    out += _family("mch_hub_outbox_records", "gauge", "records waiting in devices' outboxes (last reported)",
                   [("", float(sum(v.queue_depth or 0 for v in views)))])
    out += _family("mch_hub_commands", "gauge", "commands to devices by state",
                   [(f'{{state="{_label(k)}"}}', float(n)) for k, n in sorted(dash.commands.counts().items())])
    feed = dash.feed.status()
    out += _family("mch_hub_feed_pending", "gauge", "county feed: bundles waiting to be sent",
                   [("", float(feed.get("pending", 0)))])
    out += _family("mch_hub_feed_oldest_pending_age_seconds", "gauge", "county feed: age of the oldest pending",
                   [("", float(feed.get("oldest_pending_age_ms") or 0) / 1000)])
    out += _family("mch_hub_feed_dead_letters", "gauge", "county feed: bundles the county refused",
                   [("", float(feed.get("dead", 0)))])
    return "\n".join(out) + "\n"
