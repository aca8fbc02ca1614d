"""Bed detail: one episode's CTG on paper geometry, live or dragged back through the episode.

`DetailPresenter.frame()` returns everything the paper widget draws, in paper millimetres:
grid lines, FHR1/FHR2/MHR/TOCO polylines (cut at every gap, never interpolated), the baseline
from the analysis' minute summaries, shaded accelerations / decelerations (with their type)
and contractions, fetal movement and event marks, nurse notes. Dragging moves the window back;
while it is not live the banner reads "viewing -12 min" and "return to live" brings it back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from fetal_monitor_station.archive.store import ArchiveReader
from fetal_monitor_station.episodes import Episode
from fetal_monitor_station.report.paper import Paper, paper, polylines
from fetal_monitor_station.trace import CtgSample
from fetal_monitor_station.ui.feed import StationFeed, TraceMark

Run = list[tuple[float, float]]
LIVE_EPSILON_S = 1.0


class TraceSource(Protocol):
    def samples(self, episode: Episode, start_s: float, end_s: float) -> list[CtgSample]: ...

    def marks(self, episode: Episode) -> list[TraceMark]: ...


@dataclass(frozen=True)
class Span:
    kind: str
    x0_mm: float
    x1_mm: float
    type: str | None


@dataclass(frozen=True)
class DetailFrame:
    start_s: float
    end_s: float
    width_mm: float
    paper: Paper
    live: bool
    offset_min: int  # minutes behind live (0 when live)
    time_lines: list[tuple[float, bool]]
    fhr_lines: list[tuple[float, bool, int]]
    toco_lines: list[tuple[float, bool, int]]
    fhr1: list[Run]
    fhr2: list[Run]
    mhr: list[Run]
    toco: list[Run]
    baseline: list[Run]
    spans: list[Span]
    movement_mm: list[float]
    event_mm: list[float]
    minute_labels: list[tuple[float, str]]  # (x mm, "hh:mm") at each heavy line
    notes: list[tuple[float, str]]  # (x mm, text) of the nurses' notes and event marks


def _to_mm(runs: list[Run], x: Callable[[float], float], y: Callable[[float], float]) -> list[Run]:
    return [[(x(t), y(v)) for t, v in run] for run in runs]


class DetailPresenter:
    def __init__(self, episode: Episode, source: TraceSource, clock: Callable[[], float], *,
                 width_mm: float = 270.0, speed_cm_min: int = 3, fhr_scale: str = "50-210",
                 live: bool = True, time_label: Callable[[float], str] | None = None,
                 notes: Callable[[Episode, float, float], list[tuple[float, str]]] | None = None) -> None:
        self.episode = episode
        self._source = source
        self._clock = clock
        self.paper = paper(speed_cm_min, fhr_scale)
        self.width_mm = width_mm
        self.offset_s = 0.0
        self.can_go_live = live and episode.discharged_ms is None
        self._label = time_label or (lambda t: "")
        self._notes = notes

    # -- controls -----------------------------------------------------------------------
    def set_speed(self, speed_cm_min: int) -> None:
        self.paper = paper(speed_cm_min, self._scale_name())

    def set_fhr_scale(self, name: str) -> None:
        self.paper = paper(self.paper.speed_cm_min, name)

    def _scale_name(self) -> str:
        return f"{self.paper.fhr.low_bpm}-{self.paper.fhr.high_bpm}"

    def window_s(self) -> float:
        return self.paper.seconds_for(self.width_mm)

    def _end_live(self) -> float:
        if self.can_go_live:
            return self._clock()
        end_ms = self.episode.discharged_ms
        return end_ms / 1000.0 if end_ms is not None else self._clock()

    def drag_mm(self, dx_mm: float) -> None:
        """A drag to the right (positive) moves back in time, like pulling paper back."""
        self.go_back_s(dx_mm / self.paper.mm_per_s)

    def go_back_s(self, seconds: float) -> None:
        episode_s = max(0.0, self._end_live() - self.episode.admitted_s)
        self.offset_s = min(max(self._clamp(self.offset_s) + seconds, 0.0), episode_s)

    def _clamp(self, offset: float) -> float:
        """Offsets stop where the window's left edge reaches the episode start (checked again at each
        frame, since the window width follows the widget's size)."""
        latest = self._end_live()
        oldest_offset = max(0.0, latest - self.episode.admitted_s - self.window_s())
        return min(max(offset, 0.0), oldest_offset)

    def return_to_live(self) -> None:
        self.offset_s = 0.0

    @property
    def live(self) -> bool:
        return self.can_go_live and self._clamp(self.offset_s) < LIVE_EPSILON_S

    def banner_minutes(self) -> int:
        """Whole minutes behind live shown in the banner (0 = live)."""
        offset = self._clamp(self.offset_s)
        return 0 if offset < LIVE_EPSILON_S else max(1, int(round(offset / 60.0)))

    # -- output -------------------------------------------------------------------------
    def frame(self) -> DetailFrame:
        p = self.paper
        end = self._end_live() - self._clamp(self.offset_s)
        start = end - self.window_s()
        samples = self._source.samples(self.episode, start, end)
        times = [s.t_s for s in samples]

        def x(t: float) -> float:
            return p.x_mm(t, start)

        def chan(name: str, y: Callable[[float], float]) -> list[Run]:
            return _to_mm(polylines(times, [getattr(s, name) for s in samples]), x, y)

        spans, base_runs = [], []
        for m in self._source.marks(self.episode):
            if m.end_s < start or m.start_s > end:
                continue
            if m.kind == "baseline" and m.value is not None:
                base_runs.append([(x(max(m.start_s, start)), p.fhr_y_mm(m.value)),
                                  (x(min(m.end_s, end)), p.fhr_y_mm(m.value))])
            elif m.kind != "baseline":
                spans.append(Span(m.kind, x(max(m.start_s, start)), x(min(m.end_s, end)), m.type))
        grid = p.time_lines(start, end)
        labels = [(xm, self._label(start + xm / p.mm_per_s)) for xm, major in grid if major]
        notes = [(x(t), text) for t, text in self._notes(self.episode, start, end)] if self._notes else []
        return DetailFrame(
            start, end, self.width_mm, p, self.live, self.banner_minutes(), grid, p.fhr_lines(), p.toco_lines(),
            chan("fhr1_bpm", p.fhr_y_mm), chan("fhr2_bpm", p.fhr_y_mm), chan("mhr_bpm", p.fhr_y_mm),
            chan("toco", p.toco_y_mm), _merge(base_runs), spans,
            [x(s.t_s) for s in samples if s.movement], [x(s.t_s) for s in samples if s.mark], labels, notes)


def _merge(runs: Sequence[Run]) -> list[Run]:
    """Join touching minute segments of the baseline into one stepped line."""
    out: list[Run] = []
    for run in runs:
        if out and math.isclose(out[-1][-1][0], run[0][0], abs_tol=1e-6):
            out[-1].extend(run)
        else:
            out.append(list(run))
    return out


class ArchiveTraceSource:
    """Samples from the archive (committed once a second) completed by the feed's live tail."""

    def __init__(self, reader: ArchiveReader, feed: StationFeed | None = None) -> None:
        self._reader = reader
        self._feed = feed

    def samples(self, episode: Episode, start_s: float, end_s: float) -> list[CtgSample]:
        out = self._reader.history(episode.episode_id, start_s, end_s)
        if self._feed is not None:
            after = out[-1].t_s if out else start_s - 1.0
            tail = self._feed.samples(episode.bed_id, episode.episode_id, after)
            out.extend(s for s in tail if after < s.t_s < end_s)
        return out

    def marks(self, episode: Episode) -> list[TraceMark]:
        if self._feed is None:
            return []
        return self._feed.marks(episode.bed_id, episode.episode_id)
