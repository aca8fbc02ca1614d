"""The store half of a hub worker: open, verify, store and commit batches; seal what to send back.

It runs in its own process (`serve`), so the CPU-bound half (COSE, schemas, encryption at
rest, SQL) does not share a GIL with the MQTT half (TLS reads, packet decoding, PUBACKs):
on a 2-core hub the two halves run at once. The network half (`central_hub.worker`) sends
batches in order over a pipe and acknowledges a batch's messages only when this half
answers that the batch is committed.

Pipe messages (pickled tuples):
- network -> store: ("batch", seq, [(topic, payload, dup, received_at_ms), ...]),
  ("stats", {counter: n}) (the network half's counters, saved with ours), ("stop",).
- store -> network: ("ready",) or ("failed", why) once at start; ("done", seq, [(topic,
  payload), ...]) per committed batch, in order, with the sealed acks and commands;
  ("skipped", seq) for a batch that hit a bug (nothing of it is acknowledged).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Mapping
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from central_hub.config import WorkerConfig
from central_hub.datakey import load_or_create
from central_hub.directory import Directory
from central_hub.diskwatch import DISK_FAULTS, DiskWatch
from central_hub.downlink import Downlink, DownlinkCounters, DownlinkSealer
from central_hub.errors import HubError, StoreError, StoreUnavailable
from central_hub.handler import Handler, Inbound
from central_hub.ingest import Ingestor
from central_hub.journal_import import JournalWatch
from central_hub.stats import IngestStats
from central_hub.store import open_store
from central_hub.store.quarantine import RETENTION_DAYS
from mch_link.errors import LinkError

log = logging.getLogger(__name__)

RETRY_MIN_S, RETRY_MAX_S = 0.2, 5.0
ORPHAN_CHECK_S = 0.5
PRUNE_INTERVAL_S = 3600.0
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

WireInbound = tuple[str, bytes, bool, int]
WireDownlink = tuple[str, bytes]


class StopSignal(Protocol):
    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...


class StoreSide:
    """Everything the store half owns; usable in-process (tests) as well as in `serve`."""

    def __init__(self, config: WorkerConfig, stop: StopSignal, disk: DiskWatch | None = None) -> None:
        self.config = config
        self.stop = stop
        self.stats = IngestStats()
        self.store = open_store(config.db_url)
        path = getattr(self.store, "path", None)  # SQLite: the database file; PostgreSQL's disk is not ours
        self.disk = disk or (DiskWatch(Path(path).parent) if path is not None else None)
        self._pruned_at = float("-inf")
        self.journal = JournalWatch(config.site_dir)
        try:
            directory = Directory.from_site(config.site_dir)
            sealer = DownlinkSealer(directory, DownlinkCounters(self.store))
            self.ingestor = Ingestor(self.store, Handler(directory, load_or_create(config.state_dir)), sealer,
                                     self.stats)
            self.ingestor.publish_registry_problems(int(time.time() * 1000))  # shown even before any traffic
        except BaseException:
            self.store.close()
            raise

    def commit(self, batch: list[Inbound]) -> list[Downlink] | None:
        """Store and commit `batch`; retries while the store is unavailable.

        Returns what to send back, or None if asked to stop before the store came back:
        then nothing of the batch is committed and nothing may be acknowledged.
        """
        self._watch_disk()
        self._prune_quarantine()
        self.journal.poll(self.store)
        delay = RETRY_MIN_S
        while True:
            try:
                outcomes = self.ingestor.process(batch)
                break
            except StoreUnavailable as exc:
                self.stats.add("store_retries")
                log.error("store unavailable, batch of %d kept unacknowledged: %s", len(batch), exc)
                if self.stop.wait(delay):
                    return None
                delay = min(delay * 2, RETRY_MAX_S)
                # The COMMIT may have happened before the error reached us (a connection lost in the
                # answer): retried as a redelivery, an envelope already stored is re-acknowledged, not
                # quarantined as a replay of itself.
                batch = [replace(m, dup=True) for m in batch]
        try:
            return self.ingestor.downlinks(outcomes)
        except StoreUnavailable as exc:  # no downlink counter reserved: the device resends, is acked then
            self.stats.add("downlink_counter_unavailable")
            log.error("cannot reserve downlink counters: %s", exc)
            return []

    def _watch_disk(self) -> None:
        if self.disk is None or not self.disk.check():
            return
        self.store.quarantine_paused = self.disk.low is not None
        if self.disk.low:
            log.error("low disk under %s: %s", self.disk.path, self.disk.low)
        try:
            self.store.set_hub_faults(DISK_FAULTS, {str(self.disk.path): self.disk.low} if self.disk.low else {},
                                      int(time.time() * 1000))
        except StoreError as exc:
            log.warning("could not record the disk state: %s", exc)

    def _prune_quarantine(self) -> None:
        """Retention: at most once per PRUNE_INTERVAL_S, drop quarantine rows last seen long ago."""
        now = time.monotonic()
        if now - self._pruned_at < PRUNE_INTERVAL_S:
            return
        self._pruned_at = now
        try:
            dropped = self.store.prune_quarantine(int(time.time() * 1000))
        except StoreError as exc:
            log.warning("quarantine retention: %s", exc)
            return
        if dropped:
            log.info("quarantine retention: dropped %d rows last seen over %d days ago", dropped, RETENTION_DAYS)

    def save_stats(self, network: Mapping[str, int]) -> None:
        """One row per worker: the network half's counters and ours."""
        snapshot: dict[str, Any] = {**network, **self.stats.snapshot()}
        try:
            self.store.put_worker_stats(self.config.identity.hub_id, int(time.time() * 1000),
                                        dict(sorted(snapshot.items())))
        except StoreUnavailable as exc:
            log.warning("could not save worker stats: %s", exc)

    def close(self) -> None:
        self.store.close()


class _StopOrOrphaned:
    """Set when the network half asks us to stop, or has died (we were re-parented): a store
    outage must not keep an orphan retrying forever."""

    def __init__(self, event: StopSignal, parent_pid: int) -> None:
        self._event = event
        self._parent_pid = parent_pid

    def is_set(self) -> bool:
        return self._event.is_set() or os.getppid() != self._parent_pid

    def wait(self, timeout: float | None = None) -> bool:
        end = time.monotonic() + (timeout if timeout is not None else float("inf"))
        while not self.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return False
            self._event.wait(min(left, ORPHAN_CHECK_S))
        return True


def serve(config: WorkerConfig, conn: Connection, stop: StopSignal, log_level: str, parent_pid: int) -> None:
    """The store process's main loop (a multiprocessing target)."""
    logging.basicConfig(level=log_level, format=LOG_FORMAT)
    # Ctrl-C reaches the whole process group; the network half decides when to stop (it drains first).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        side = StoreSide(config, _StopOrOrphaned(stop, parent_pid))
    except (HubError, LinkError, OSError) as exc:
        conn.send(("failed", str(exc)))
        return
    try:
        conn.send(("ready",))
        _serve_loop(side, conn)
    except (EOFError, OSError):  # the network half is gone: nothing more will be acknowledged
        log.warning("store process: the network half went away; exiting")
    finally:
        side.close()


def _serve_loop(side: StoreSide, conn: Connection) -> None:
    while True:
        msg = conn.recv()
        if msg[0] == "batch":
            _, seq, wire = msg
            try:
                downlinks = side.commit([Inbound(*w) for w in wire])
            except Exception:  # a bug in one batch must not end ingest: its messages stay unacknowledged
                side.stats.add("writer_errors")
                log.exception("store process: unexpected error in batch %d", seq)
                downlinks = None
            if downlinks is None:
                if side.stop.is_set():
                    return
                conn.send(("skipped", seq))
                continue
            conn.send(("done", seq, [(d.topic, d.payload) for d in downlinks]))
        elif msg[0] == "stats":
            side.save_stats(msg[1])
        elif msg[0] == "stop":
            return
