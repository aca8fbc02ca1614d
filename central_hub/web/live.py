"""The live fleet: a read model of every device's view, kept current by polling the store, and fanned
out to the browsers' event streams.

Every POLL_S it reads the rows seen since a little before the last poll (LOOKBACK_MS covers a
batch committed after its receive time; only rows that differ from the last poll are looked at), and every FULL_EVERY_S the whole table and the registry
(a batch held back by a store outage, a revocation, a certificate day passing). The hub's own
facts (central_hub.store `hub_faults`) are read every tick: about a device, they join its faults;
about the hub (registry files that do not read, low disk), they are the page's banner. Each tick also
re-checks the online devices whose expiry has passed: going silent is a change no message brings.
A row is pushed to subscribers only when what it shows changed (`DeviceView.signature`).
Subscriber queues are bounded; one that overflows is told to reload instead of growing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from central_hub.directory import Directory
from central_hub.errors import StoreError
from central_hub.fleet import Presence
from central_hub.store.base import Store
from central_hub.store.model import FLEET_COLUMNS, FleetRow, HubFault
from central_hub.web.fleet_view import DeviceView, device_view, split_hub_faults

log = logging.getLogger(__name__)

POLL_S = 0.1
FULL_EVERY_S = 10.0
LOOKBACK_MS = 5_000
SUBSCRIBER_QUEUE = 2_000


@dataclass(eq=False)
class Subscriber:
    loop: asyncio.AbstractEventLoop
    device_ids: frozenset[str] | None  # None: every device
    queue: asyncio.Queue[DeviceView | None] = field(default_factory=lambda: asyncio.Queue(SUBSCRIBER_QUEUE))
    overflowed: bool = False

    def offer(self, view: DeviceView | None) -> None:
        """On the event loop's thread."""
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(view)
        except asyncio.QueueFull:
            self.overflowed = True


class LiveFleet:
    def __init__(self, store: Store, directory: Directory, site: str, clock: Callable[[], float] = time.time,
                 poll_s: float = POLL_S) -> None:
        self.store = store
        self.directory = directory
        self.site = site
        self.clock = clock
        self.poll_s = poll_s
        self._lock = threading.Lock()
        self._rows: dict[str, FleetRow] = {}
        self._views: dict[str, DeviceView] = {}
        self._subscribers: set[Subscriber] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cursor_ms = 0
        self._hub_faulted: set[str] = set()  # devices with a hub fault at the last tick
        self.hub_faults: list[HubFault] = []  # about the hub itself (registry files, disk), for the banner
        self._full_at = 0.0
        self.ticks = 0
        self.errors = 0
        self.refresh(full=True)

    # -- reading ------------------------------------------------------------------------
    def views(self) -> list[DeviceView]:
        with self._lock:
            return [self._views[d] for d in sorted(self._views)]

    def view(self, device_id: str) -> DeviceView | None:
        with self._lock:
            return self._views.get(device_id)

    # -- subscribers ----------------------------------------------------------------------
    def subscribe(self, device_ids: Iterable[str] | None) -> Subscriber:
        sub = Subscriber(asyncio.get_running_loop(), None if device_ids is None else frozenset(device_ids))
        with self._lock:
            self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    # -- polling --------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="live-fleet", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.refresh(full=time.monotonic() - self._full_at >= FULL_EVERY_S)
            except StoreError as exc:  # the database is away: keep the last view, try again
                self.errors += 1
                log.warning("live fleet: cannot read the store: %s", exc)
            except Exception:  # never let the thread die
                self.errors += 1
                log.exception("live fleet: unexpected error")

    def _rows_seen_since(self, since_ms: int) -> list[FleetRow]:
        rows = self.store.read(f"SELECT {', '.join(FLEET_COLUMNS)} FROM fleet WHERE last_seen_ms >= ?", (since_ms,))
        return [FleetRow(**{**dict(zip(FLEET_COLUMNS, r, strict=True)), "online": bool(r[1])}) for r in rows]

    def refresh(self, full: bool = False) -> list[DeviceView]:
        """One tick; returns the views that changed (and were pushed)."""
        now_ms = int(self.clock() * 1000)
        if full:
            self._full_at = time.monotonic()
            self.directory.reload()
            fetched = self.store.fleet_rows()
        else:
            fetched = self._rows_seen_since(self._cursor_ms - LOOKBACK_MS)
        registry = self.directory.known()
        per_device, about_hub = split_hub_faults(self.store.hub_faults(), set(self._rows) | set(registry)
                                                 | {r.device_id for r in fetched})
        changed: list[DeviceView] = []
        with self._lock:
            self.hub_faults = about_hub
            moved = set()  # rows that differ from the last poll (the look-back reads most rows again)
            for row in fetched:
                if self._rows.get(row.device_id) != row:
                    moved.add(row.device_id)
                    self._rows[row.device_id] = row
                if row.last_seen_ms is not None:
                    self._cursor_ms = max(self._cursor_ms, row.last_seen_ms)
            hub_faulted = set(per_device) | self._hub_faulted
            self._hub_faulted = set(per_device)
            ids: Iterable[str] = set(self._rows) | set(registry) if full else \
                moved | hub_faulted | {d for d, v in self._views.items() if _may_expire(v, now_ms)}
            for device_id in ids:
                view = device_view(device_id, self._rows.get(device_id), registry.get(device_id), self.site, now_ms,
                                   per_device.get(device_id, ()))
                old = self._views.get(device_id)
                if old is None or old.signature() != view.signature():
                    self._views[device_id] = view
                    changed.append(view)
            subscribers = list(self._subscribers)
            self.ticks += 1
        for sub in subscribers:
            wanted = [v for v in changed if sub.device_ids is None or v.device_id in sub.device_ids]
            for v in wanted:
                sub.loop.call_soon_threadsafe(sub.offer, v)
            if wanted:
                sub.loop.call_soon_threadsafe(sub.offer, None)  # end of a batch: time to send the summary
        return changed


def _may_expire(view: DeviceView, now_ms: int) -> bool:
    return view.presence is Presence.ONLINE and view.expires_at_ms is not None and view.expires_at_ms < now_ms
