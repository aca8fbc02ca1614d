"""Runtime wiring: bed readers -> queue -> archive + analyzer -> alarms -> publisher.

Reader threads (one per bed) put samples into one bounded queue (overflow counted per bed);
one worker thread owns the archive writes, the analyzers and the publisher, so none of them
needs to be thread-safe. Admission, discharge and alarm acknowledgement from the UI take the
same lock as the worker. The analyzer and the alarm policy are injected (Protocols), so the
runtime works and is tested with any implementation, or with analysis disabled.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import serial

from fetal_monitor_station.archive.store import Archive
from fetal_monitor_station.config import BedConfig
from fetal_monitor_station.episodes import Episode, EpisodeBook, Patient
from fetal_monitor_station.errors import EpisodeError
from fetal_monitor_station.interfaces import (
    AlarmChange,
    AlarmPolicy,
    Analyzer,
    AnalyzerFactory,
    BedAnalysis,
    ClassificationOf,
)
from fetal_monitor_station.monitor.decoder import make_decoder
from fetal_monitor_station.monitor.reader import BedReader, LinkQuality, PortOpener
from fetal_monitor_station.publisher import Publisher
from fetal_monitor_station.trace import CtgSample

__all__ = ["AlarmChange", "AlarmPolicy", "Analyzer", "AnalyzerFactory", "BedView", "ClassificationOf", "Station",
           "StationListener"]

log = logging.getLogger(__name__)

QUEUE_MAX = 64 * 1024  # ~2 min of 128 beds at 4 Hz
FLUSH_S = 1.0  # archive commit period (samples at risk on a crash)
STALE_BATCH_MS = 5_000
MAX_GAP_FILL_S = 1800.0  # the analyzer wants consecutive samples: gaps up to this are filled

#: Called on the worker thread with (bed id, episode id, item): every archived CtgSample, every
#: analysis event, every published AlarmChange. Must be quick and must not block (the nurse UI
#: appends to bounded deques); an exception is counted and logged, never stops acquisition.
StationListener = Callable[[str, int, Any], None]


@dataclass
class BedState:
    last: CtgSample | None = None
    classification: str = ""
    baseline_bpm: float | None = None  # from the latest classification (the county's antenatal FHR)
    alarms: dict[str, AlarmChange] = field(default_factory=dict)
    overflow: int = 0
    unassigned: int = 0


@dataclass(frozen=True)
class BedView:
    bed_id: str
    connected: bool
    episode: Episode | None
    last: CtgSample | None
    classification: str
    alarms: tuple[str, ...]
    quality: LinkQuality


@dataclass
class StationStats:
    samples: int = 0
    analysis_errors: int = 0
    alarm_errors: int = 0
    archive_errors: int = 0
    listener_errors: int = 0
    flushes: int = 0


class Station:
    def __init__(self, beds: Sequence[BedConfig], archive: Archive, publisher: Publisher, *,
                 analyzer_factory: AnalyzerFactory | None = None, alarm_policy: AlarmPolicy | None = None,
                 classification_of: ClassificationOf | None = None, opener: PortOpener = serial.serial_for_url,
                 clock: Callable[[], float] = time.time, time_scale: float = 1.0) -> None:
        self.archive = archive
        self.book = EpisodeBook(archive, clock_ms=lambda: int(clock() * 1000))
        self.publisher = publisher
        self.clock = clock  # the station's time (scaled in accelerated simulation runs)
        self._clock = clock
        self._analyzer_factory = analyzer_factory
        self._alarm_policy = alarm_policy
        self._classification_of = classification_of
        self._queue: queue.Queue[tuple[str, CtgSample]] = queue.Queue(QUEUE_MAX)
        self._state = {b.bed_id: BedState() for b in beds}
        self._analyzers: dict[str, BedAnalysis] = {}
        self.readers = {b.bed_id: BedReader(b.bed_id, b.url, make_decoder(b.protocol, b.options), self._put,
                                            baudrate=b.baudrate, opener=opener, clock=clock,
                                            time_scale=time_scale) for b in beds}
        self._connected: dict[str, bool] = {}
        self.stats = StationStats()
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self.listeners: list[StationListener] = []

    def _notify(self, bed_id: str, episode_id: int, item: Any) -> None:
        for listener in self.listeners:
            try:
                listener(bed_id, episode_id, item)
            except Exception as exc:  # a faulty view must not stop acquisition
                self.stats.listener_errors += 1
                log.exception("bed %s: listener failed: %s", bed_id, exc)

    # -- acquisition side ---------------------------------------------------------------
    def _put(self, bed_id: str, sample: CtgSample) -> None:
        try:
            self._queue.put_nowait((bed_id, sample))
        except queue.Full:
            self._state[bed_id].overflow += 1

    def start(self) -> None:
        self._worker = threading.Thread(target=self._run, name="station-worker", daemon=True)
        self._worker.start()
        for r in self.readers.values():
            r.start()

    def stop(self) -> None:
        for r in self.readers.values():
            r.stop()
        self._stop.set()
        if self._worker is not None:
            self._worker.join(10.0)
        with self.lock:
            self._drain()
            self.publisher.flush_all()
            self.archive.flush()

    def _run(self) -> None:
        next_flush = time.monotonic() + FLUSH_S
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=0.2)
            except queue.Empty:
                item = None
            with self.lock:
                if item is not None:
                    self.process(*item)
                    self._drain()
                if time.monotonic() >= next_flush:
                    next_flush = time.monotonic() + FLUSH_S
                    self.tick()

    def _drain(self, limit: int = 4096) -> None:
        for _ in range(limit):
            try:
                self.process(*self._queue.get_nowait())
            except queue.Empty:
                return

    def tick(self) -> None:
        """Periodic work: commit the archive, send quiet beds' batches, retry the outbox."""
        try:
            self.archive.flush()
            self.stats.flushes += 1
        except Exception as exc:  # the archive must not stop acquisition; counted and logged
            self.stats.archive_errors += 1
            log.error("archive flush failed: %s", exc)
        self.publisher.flush_stale(int(self._clock() * 1000), STALE_BATCH_MS)
        self.publisher.retry()
        if self._alarm_policy is not None:
            self._alarm_tick(self._alarm_policy)

    def _alarm_tick(self, policy: AlarmPolicy) -> None:
        try:
            changes = list(policy.tick())
            for bed_id, reader in self.readers.items():
                if reader.connected != self._connected.get(bed_id, True):
                    self._connected[bed_id] = reader.connected
                    changes += [(bed_id, c) for c in policy.connection(bed_id, reader.connected)]
        except Exception as exc:  # counted and logged; acquisition goes on
            self.stats.alarm_errors += 1
            log.exception("alarm tick failed: %s", exc)
            return
        for bed_id, ch in changes:
            ep = self.book.current(bed_id)
            if ep is not None:
                self._apply_alarms(bed_id, ep, [ch])

    # -- per-sample pipeline ------------------------------------------------------------
    def process(self, bed_id: str, sample: CtgSample) -> None:
        state = self._state[bed_id]
        state.last = sample
        self.stats.samples += 1
        ep = self.book.current(bed_id)
        if ep is None:
            if sample.fhr1_bpm is None and sample.fhr2_bpm is None and sample.toco is None:
                state.unassigned += 1  # monitor on, nothing attached, nobody admitted
                return
            ep, _ = self.book.ensure(bed_id, int(sample.t_s * 1000))
            self.publisher.episode(ep.record("opened", int(self._clock() * 1000)))
        self.archive.append(ep.episode_id, sample)
        self.publisher.add_sample(bed_id, ep.episode_id, sample)
        if self.listeners:
            self._notify(bed_id, ep.episode_id, sample)
        events = self._analyse(bed_id, ep, sample)
        self._alarms(bed_id, ep, sample, events)

    def _analyse(self, bed_id: str, ep: Episode, sample: CtgSample) -> list[Any]:
        if self._analyzer_factory is None:
            return []
        current = self._analyzers.get(bed_id)
        rel_t_s = sample.t_s - ep.admitted_s
        try:
            if current is not None and (current.episode_id != ep.episode_id or
                                        rel_t_s - current.next_t_s > MAX_GAP_FILL_S):
                current = None
            if current is None:
                current = BedAnalysis(ep.episode_id, self._analyzer_factory(bed_id, ep), rel_t_s)
                self._analyzers[bed_id] = current
            events = current.push(dataclasses.replace(sample, t_s=rel_t_s))
        except Exception as exc:  # a faulty analysis must not stop acquisition or archiving
            self.stats.analysis_errors += 1
            log.exception("bed %s: analysis failed: %s", bed_id, exc)
            return []
        for ev in events if self.listeners else ():
            self._notify(bed_id, ep.episode_id, ev)
        if self._classification_of is not None:
            for ev in events:
                body = self._classification_of(ev)
                if body is not None:
                    self._classified(bed_id, ep, body)
        return events

    def _classified(self, bed_id: str, ep: Episode, cls: dict[str, Any]) -> None:
        state = self._state[bed_id]
        if cls.get("baseline_bpm") is not None:
            state.baseline_bpm = float(cls["baseline_bpm"])
        label = f"FIGO {cls['figo']} / NICHD {cls['nichd']}"
        if label == state.classification:
            return
        state.classification = label
        offset_ms = ep.admitted_ms
        body = {"bed": bed_id, "episode_id": ep.episode_id, "at_ms": int(self._clock() * 1000),
                **{k: v for k, v in cls.items() if k not in ("window_start_s", "window_end_s")},
                "window_start_ms": offset_ms + int(cls["window_start_s"] * 1000),
                "window_end_ms": offset_ms + int(cls["window_end_s"] * 1000)}
        self.publisher.classification(body)

    def _alarms(self, bed_id: str, ep: Episode, sample: CtgSample, events: list[Any]) -> None:
        if self._alarm_policy is None:
            return
        analyzer = self._analyzers.get(bed_id)
        try:
            changes = self._alarm_policy.update(bed_id, ep, sample, events,
                                                analyzer.analyzer if analyzer else None)
        except Exception as exc:  # same rule as analysis: counted, logged, acquisition goes on
            self.stats.alarm_errors += 1
            log.exception("bed %s: alarm policy failed: %s", bed_id, exc)
            return
        self._apply_alarms(bed_id, ep, changes)

    def _apply_alarms(self, bed_id: str, ep: Episode, changes: Sequence[AlarmChange]) -> None:
        state = self._state[bed_id]
        for ch in changes:
            if ch.event != "raised" and ch.alarm_id not in state.alarms:
                continue  # raised while the bed had no episode, so never published
            if ch.event == "cleared":
                state.alarms.pop(ch.alarm_id, None)
            else:
                state.alarms[ch.alarm_id] = ch
            body: dict[str, Any] = {"alarm_id": ch.alarm_id, "bed": bed_id, "episode_id": ep.episode_id,
                                    "event": ch.event, "kind": ch.kind, "at_ms": int(self._clock() * 1000)}
            for key in ("severity", "message", "nurse_id"):
                if getattr(ch, key):
                    body[key] = getattr(ch, key)
            if ch.detail:
                body["detail"] = ch.detail
            self.publisher.alarm(body)
            self._notify(bed_id, ep.episode_id, ch)

    # -- nurse actions ------------------------------------------------------------------
    def admit(self, bed_id: str, patient: Patient) -> Episode:
        with self.lock:
            self._known(bed_id)
            ep = self.book.admit(bed_id, patient)
            self.publisher.episode(ep.record("admitted", int(self._clock() * 1000)))
            return ep

    def assign(self, episode_id: int, patient: Patient) -> Episode:
        """Give an unidentified episode (recorded before admission) its patient."""
        with self.lock:
            ep = self.book.assign(episode_id, patient)
            self.publisher.episode(ep.record("admitted", int(self._clock() * 1000)))
            return ep

    def discharge(self, bed_id: str) -> Episode:
        with self.lock:
            self._known(bed_id)
            self._drain()
            current = self.book.current(bed_id)
            if current is not None and self._alarm_policy is not None:
                self._apply_alarms(bed_id, current, self._alarm_policy.reset(bed_id))
            self.publisher.flush_bed(bed_id)
            ep = self.book.discharge(bed_id)
            self._analyzers.pop(bed_id, None)
            self._state[bed_id].alarms.clear()
            self._state[bed_id].classification = ""
            self._state[bed_id].baseline_bpm = None
            self.publisher.episode(ep.record("discharged", int(self._clock() * 1000)))
            return ep

    def acknowledge(self, bed_id: str, alarm_id: str, nurse_id: str) -> None:
        with self.lock:
            self._known(bed_id)
            ep = self.book.current(bed_id)
            if ep is not None and self._alarm_policy is not None:
                changes = self._alarm_policy.acknowledge(bed_id, alarm_id, nurse_id, self._clock())
                self._apply_alarms(bed_id, ep, changes)

    def baseline_bpm(self, bed_id: str) -> float | None:
        """The FHR baseline of the bed's latest classification in this episode (None before the first)."""
        self._known(bed_id)
        return self._state[bed_id].baseline_bpm

    def county_record(self, schema: str, body: dict[str, Any]) -> None:
        """A record for the county feed (`delivery/1`, `antenatal-visit/1`) through the outbox."""
        with self.lock:
            self.publisher.record(schema, body)

    def report(self, body: dict[str, Any]) -> None:
        """Send a `ctg-report/1` record (made by the report service) through the outbox."""
        with self.lock:
            self.publisher.report(body)

    def _known(self, bed_id: str) -> None:
        if bed_id not in self._state:
            raise EpisodeError(f"no bed {bed_id!r} on this station; beds: {', '.join(self._state)}")

    # -- views --------------------------------------------------------------------------
    def views(self) -> list[BedView]:
        out = []
        for bed_id, st in self._state.items():
            q = self.readers[bed_id].quality()
            out.append(BedView(bed_id, q.connected, self.book.current(bed_id), st.last, st.classification,
                               tuple(f"{a.kind}{'' if a.event != 'acknowledged' else ' (ack)'}"
                                     for a in st.alarms.values()), q))
        return out

    def active_alarms(self) -> dict[str, list[AlarmChange]]:
        """Beds with alarms the engine holds now (acknowledged ones included); call under `lock`."""
        return {bed_id: list(st.alarms.values()) for bed_id, st in self._state.items() if st.alarms}

    def overflow(self) -> int:
        return sum(s.overflow for s in self._state.values())
