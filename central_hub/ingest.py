"""One batch of inbound messages: handle them in one store transaction, commit, then say what to send.

MQTT-agnostic (the worker adds the broker; tests and the benchmark drive it directly).
A store outage raises StoreUnavailable and nothing is acknowledged; a batch the store refuses
for its data is split, and a message refused on its own is quarantined as a whole.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from central_hub.downlink import Downlink, DownlinkSealer
from central_hub.errors import HubError, StoreError, StoreUnavailable
from central_hub.handler import Handler, Inbound
from central_hub.outcome import Outcome, Reason
from central_hub.stats import IngestStats
from central_hub.store.base import Store
from mch_link.errors import LinkError
from mch_link.topics import PREFIX

log = logging.getLogger(__name__)

REGISTRY_FAULTS = "registry"  # hub_faults source: registry files that do not read


class Ingestor:
    def __init__(self, store: Store, handler: Handler, sealer: DownlinkSealer, stats: IngestStats | None = None) -> None:
        self.store = store
        self.handler = handler
        self.sealer = sealer
        self.stats = stats or IngestStats()
        self._registry_published = -1  # the directory's problems_version last written to the fleet view

    def process(self, batch: Sequence[Inbound]) -> list[Outcome]:
        """Handle and commit `batch`. Raises StoreUnavailable (nothing committed: retry later)."""
        try:
            outcomes = self._commit(batch)
        except StoreUnavailable:
            raise
        except StoreError as exc:
            log.error("store refused a batch of %d: %s", len(batch), exc)
            self.stats.add("store_refused_batches")
            outcomes = self._one_by_one(batch) if len(batch) > 1 else [self._refused(batch[0], exc)]
        self.stats.add("batches")
        for o in outcomes:
            self.stats.outcome(o)
        self.publish_registry_problems(batch[-1].received_at_ms if batch else 0)
        return outcomes

    def publish_registry_problems(self, now_ms: int) -> None:
        """Bad registry files, as hub faults the fleet view shows (written when they change)."""
        directory = self.handler.directory
        version = directory.problems_version
        if version == self._registry_published:
            return
        try:
            self.store.set_hub_faults(REGISTRY_FAULTS, dict(directory.problems), now_ms)
        except StoreError as exc:  # shown at the next batch
            log.warning("could not record the registry's bad files: %s", exc)
            return
        self._registry_published = version

    def _commit(self, batch: Sequence[Inbound]) -> list[Outcome]:
        known = self.handler.directory.known()
        devices = set()
        for m in batch:
            d = _topic_device(m.topic)
            if d is not None and d in known and known[d].active:
                devices.add(d)
        with self.store.transaction(devices) as txn:
            return [self.handler.handle(txn, m) for m in batch]

    def _one_by_one(self, batch: Sequence[Inbound]) -> list[Outcome]:
        out = []
        for m in batch:
            try:
                out.extend(self._commit([m]))
            except StoreUnavailable:
                raise
            except StoreError as exc:
                out.append(self._refused(m, exc))
        return out

    def _refused(self, m: Inbound, exc: StoreError) -> Outcome:
        with self.store.transaction(()) as txn:  # StoreError here propagates: retried later, never acked
            return self.handler.reject(txn, m, Reason.STORE_ERROR, str(exc))

    def downlinks(self, outcomes: Sequence[Outcome]) -> list[Downlink]:
        """Acks (one per device per batch, ok and held merged) and rebirth requests, sealed."""
        ok: dict[str, list[int]] = {}
        held: dict[str, list[int]] = {}
        floor: dict[str, int] = {}
        rebirth: list[str] = []
        for o in outcomes:
            if o.device_id is None:
                continue
            if o.acked:
                ok.setdefault(o.device_id, []).extend(o.ack_ok)
                held.setdefault(o.device_id, []).extend(o.held)
                if o.floor is not None:
                    floor[o.device_id] = max(o.floor, floor.get(o.device_id, o.floor))
            if o.rebirth and o.device_id not in rebirth:
                rebirth.append(o.device_id)
        out: list[Downlink] = []
        for device_id in ok:
            out.extend(self._sealed(self.sealer.acks, (device_id, ok[device_id], held[device_id], floor.get(device_id)), "acks"))
        for device_id in rebirth:
            out.extend(self._sealed(self.sealer.rebirths, (device_id,), "rebirths"))
        return out

    def _sealed(self, make: Callable[..., list[Downlink]], args: tuple[Any, ...], what: str) -> list[Downlink]:
        try:
            items = make(*args)
        except (HubError, LinkError) as exc:  # the device resends and is acked then
            log.error("could not seal %s: %s", what, exc)
            self.stats.add(f"{what}_unsealed")
            return []
        self.stats.add(f"{what}_sealed", len(items))
        return items


def _topic_device(topic: str) -> str | None:
    parts = topic.split("/")
    return parts[2] if len(parts) == 4 and f"{parts[0]}/{parts[1]}" == PREFIX else None
