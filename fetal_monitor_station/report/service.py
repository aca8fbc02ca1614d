"""Make a CTG report: collect the segment, analyse it, render the PDF, archive it with the
episode, record it in the nurse journal, send a `ctg-report/1` record to the hub, print it."""

from __future__ import annotations

import hashlib
import os
import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fetal_monitor_station.archive.store import ArchiveReader
from fetal_monitor_station.episodes import Episode
from fetal_monitor_station.errors import StationError
from fetal_monitor_station.nurse_journal import NurseJournal, check_nurse_id
from fetal_monitor_station.report.content import ReportContent, analyse_segment, dense
from fetal_monitor_station.report.paper import Paper, paper
from fetal_monitor_station.report.pdf import render_pdf
from fetal_monitor_station.trace import CtgSample

MAX_SEGMENT_S = 4 * 3600.0

class ReportPrinter(Protocol):
    queue: str

    def print_pdf(self, path: Path, title: str) -> int: ...


class ReportSink(Protocol):
    def report(self, body: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class ReportResult:
    report_id: int
    pdf_path: Path
    sha256: str
    pages: int
    job_id: int | None
    body: dict[str, Any]


class ReportService:
    def __init__(self, station_id: str, reports_dir: Path, reader: Callable[[], ArchiveReader],
                 journal: NurseJournal, sink: ReportSink, font: Path, *, printer: ReportPrinter | None = None,
                 live_tail: Callable[[Episode, float], list[CtgSample]] | None = None,
                 clock: Callable[[], float] = _time.time) -> None:
        self.station_id = station_id
        self.reports_dir = reports_dir
        self._reader = reader
        self._journal = journal
        self._sink = sink
        self._font = font
        self.printer = printer
        self._live_tail = live_tail
        self._clock = clock

    def content(self, episode: Episode, start_s: float, end_s: float, nurse_id: str) -> ReportContent:
        if not 0 < end_s - start_s <= MAX_SEGMENT_S:
            raise StationError(f"report segment must be 0..{MAX_SEGMENT_S / 3600:.0f} h long")
        samples = self._reader().history(episode.episode_id, start_s, end_s)
        if self._live_tail is not None:
            after = samples[-1].t_s if samples else start_s - 1
            samples += [s for s in self._live_tail(episode, after) if after < s.t_s < end_s]
        grid = dense(samples, start_s, end_s)
        start_ms, end_ms = int(start_s * 1000), int(end_s * 1000)
        notes = [f"{_time.strftime('%H:%M', _time.localtime(n.at_ms / 1000))} {n.nurse_id}: {n.text}"
                 for n in self._journal.notes(episode.episode_id, start_ms, end_ms)]
        alarms = [f"{_time.strftime('%H:%M:%S', _time.localtime(a.at_ms / 1000))} {a.kind} {a.event}"
                  + (f" ({a.nurse_id})" if a.nurse_id else "")
                  for a in self._journal.alarm_events(episode.episode_id, start_ms, end_ms)]
        return ReportContent(self.station_id, episode, start_s, end_s, grid,
                             analyse_segment(grid, start_s, episode.ga_weeks), alarms, notes, nurse_id,
                             self._clock())

    def make(self, episode: Episode, start_s: float, end_s: float, nurse_id: str, *, speed_cm_min: int = 3,
             fhr_scale: str = "50-210", print_it: bool = True) -> ReportResult:
        nid = check_nurse_id(nurse_id)
        p: Paper = paper(speed_cm_min, fhr_scale)
        content = self.content(episode, start_s, end_s, nid)
        pdf, pages = render_pdf(content, p, self._font)
        path = self._archive(episode, start_s, end_s, pdf)
        digest = hashlib.sha256(pdf).hexdigest()
        entry = self._journal.add_report(episode.episode_id, int(start_s * 1000), int(end_s * 1000), path, digest,
                                         nid)
        job_id = None
        error: StationError | None = None
        if print_it and self.printer is not None:
            try:
                job_id = self.printer.print_pdf(path, f"CTG {episode.bed_id} {episode.patient_id or ''}")
            except StationError as exc:
                error = exc
        body = self._body(episode, entry.report_id, content, p, pages, digest, len(pdf), nid, job_id)
        self._sink.report(body)
        self._journal.audit(nid, "report", episode.bed_id, episode_id=episode.episode_id, report_id=entry.report_id,
                            sha256=digest, printed=job_id is not None, error=str(error) if error else None)
        if error is not None:
            raise StationError(f"report archived as {path.name}, but {error}")
        return ReportResult(entry.report_id, path, digest, pages, job_id, body)

    def _archive(self, episode: Episode, start_s: float, end_s: float, pdf: bytes) -> Path:
        folder = self.reports_dir / f"episode-{episode.episode_id}"
        name = (f"ctg-{_time.strftime('%Y%m%d-%H%M%S', _time.localtime(start_s))}-"
                f"{int(end_s - start_s) // 60}min-{int(self._clock() * 1000)}.pdf")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / (name + ".tmp")
            with open(tmp, "wb") as f:
                f.write(pdf)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, folder / name)
        except OSError as exc:
            raise StationError(f"cannot archive the report in {folder} ({exc.strerror or exc})") from None
        return folder / name

    def _body(self, episode: Episode, report_id: int, c: ReportContent, p: Paper, pages: int, digest: str,
              size: int, nurse_id: str, job_id: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "report_id": report_id, "bed": episode.bed_id, "episode_id": episode.episode_id,
            "made_ms": int(c.made_s * 1000), "start_ms": int(c.start_s * 1000), "end_ms": int(c.end_s * 1000),
            "pages": pages, "sha256": digest, "size_bytes": size, "paper_speed_cm_min": p.speed_cm_min,
            "fhr_scale": f"{p.fhr.low_bpm}-{p.fhr.high_bpm}", "nurse_id": nurse_id, "printed": job_id is not None}
        if episode.patient_id:
            body["patient_id"] = episode.patient_id
        cls = c.classification()
        if cls is not None:
            body["classification"] = {"figo": cls["figo"], "nichd": cls["nichd"],
                                      **({"nst": cls["nst"]} if cls.get("nst") else {}),
                                      "reasons": list(cls.get("reasons", []))[:32]}
        return body
