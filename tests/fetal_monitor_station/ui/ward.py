"""A simulated ward for the UI tests and the screenshots: a real Station (real analysis and alarm
manager, real archive) reading simulated Corometrics monitors on ptys, with 30 minutes of history
played through the same pipeline before the readers start."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fetal_monitor_station.adapters import make_hooks
from fetal_monitor_station.archive.store import Archive
from fetal_monitor_station.config import BedConfig
from fetal_monitor_station.episodes import Patient
from fetal_monitor_station.nurse_journal import NurseJournal
from fetal_monitor_station.publisher import Publisher
from fetal_monitor_station.simulator import Simulator
from fetal_monitor_station.sources.synthetic import Span, SyntheticSpec, generate
from fetal_monitor_station.station import Station
from fetal_monitor_station.trace import CtgSample
from fetal_monitor_station.ui.controller import NurseStation

from ..helpers import FakeLink

HISTORY_S = 30 * 60
TRACE_S = 3 * 3600

# bed -> (patient or None, synthetic pattern or None for a monitor with nothing attached)
WARD: dict[str, tuple[Patient | None, dict[str, Any] | None]] = {
    "bed-01": (Patient("H10001", "王小红", 38, 2), {}),
    "bed-02": (Patient("H10002", "李娜", 39, 0), {"decel_types": ("late",)}),
    "bed-03": (Patient("H10003", "陈静", 37, 5), {"decel_types": ("variable", "early"), "decel_every": 2}),
    "bed-04": (Patient("H10004", "赵敏", 40, 1), {"bradycardia": (Span(300.0, TRACE_S, 95.0),)}),
    "bed-05": (None, {}),
    "bed-06": (Patient("H10006", "刘芳", 39, 3), {}),
    "bed-07": (None, None),
    "bed-08": (Patient("H10008", "孙丽", 41, 0), {"signal_loss_fraction": 0.1}),
}


class SettableClock:
    """Real time, or a fixed time while the history is being played in."""

    def __init__(self) -> None:
        self.fixed: float | None = None

    def __call__(self) -> float:
        return time.time() if self.fixed is None else self.fixed


@dataclass
class HubLink:
    """The hub's side as the banner sees it (the scenario test uses the real broker instead)."""

    connected: bool = False
    waiting: int = 0
    stats: Any = field(init=False)

    def __post_init__(self) -> None:
        self.stats = self

    def depth(self) -> int:
        return self.waiting


@dataclass
class Ward:
    station: Station
    nurse: NurseStation
    sim: Simulator
    link: RecordingLink
    journal: NurseJournal
    t_live: float

    def stop(self) -> None:
        self.sim.stop()
        self.station.stop()
        self.nurse.close()
        self.station.archive.close()
        self.journal.close()


def _trace(i: int, pattern: dict[str, Any]) -> list[CtgSample]:
    spec = SyntheticSpec(duration_s=TRACE_S, seed=7000 + i, with_mhr=True, **pattern)
    return list(generate(spec)[0].samples())


class RecordingLink:
    """Any link (FakeLink, DeviceLink) with a note of the outbox id each record got."""

    def __init__(self, link: Any) -> None:
        self.link = link
        self.submitted: list[tuple[str, dict[str, Any], int]] = []

    def submit(self, kind: Any, schema: str, body: dict[str, Any], made_at_ms: int | None = None) -> int:
        msg_id = int(self.link.submit(kind, schema, body, made_at_ms))
        self.submitted.append((schema, body, msg_id))
        return msg_id

    def of(self, schema: str) -> list[tuple[dict[str, Any], int]]:
        return [(b, i) for s, b, i in self.submitted if s == schema]


def build_ward(tmp: Path, hub: Any = None, beds: dict[str, tuple[Patient | None, dict[str, Any] | None]] | None = None,
               history_s: float = HISTORY_S, link: Any = None, printer: Any = None) -> Ward:
    """`hub`: what the hub banner watches (a DeviceLink or a HubLink); `link`: where records go."""
    beds = beds or WARD
    clock = SettableClock()
    sim = Simulator(speed=1.0)
    traces: dict[str, list[CtgSample]] = {}
    (tmp / "tty").mkdir(parents=True, exist_ok=True)
    for i, (bed_id, (_, pattern)) in enumerate(beds.items()):
        traces[bed_id] = _trace(i, pattern) if pattern is not None else []
        live: Iterator[CtgSample] = iter(traces[bed_id][int(history_s * 4):])
        sim.add(bed_id, list(live), tmp / "tty" / bed_id)
    urls = sim.urls()
    factory, classification_of, policy = make_hooks({})
    link = RecordingLink(link if link is not None else FakeLink())
    station = Station([BedConfig(b, urls[b]) for b in beds], Archive(tmp / "archive.sqlite3"), Publisher(link),
                      analyzer_factory=factory, alarm_policy=policy, classification_of=classification_of,
                      clock=clock)
    journal = NurseJournal(tmp / "nurse.sqlite3", clock)
    nurse = NurseStation(station, journal, link=hub, clock=clock, station_id="station-01", printer=printer)
    t_live = time.time()
    t0 = t_live - history_s
    clock.fixed = t0
    for bed_id, (patient, _) in beds.items():
        if patient is not None:
            station.admit(bed_id, patient)
    n = int(history_s * 4)
    for k in range(n):
        clock.fixed = t0 + k / 4
        for bed_id in beds:
            if k < len(traces[bed_id]):
                s = traces[bed_id][k]
                station.process(bed_id, CtgSample(t0 + k / 4, s.fhr1_bpm, s.fhr2_bpm, s.mhr_bpm, s.toco, s.movement,
                                                  s.mark))
    station.archive.flush()
    clock.fixed = None
    sim.start()
    station.start()
    return Ward(station, nurse, sim, link, journal, t_live)
