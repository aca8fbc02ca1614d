"""The nurse station behind the screens (no Kivy): one object the UI binds to and tests drive.

It wires the station's listener feed, the alarm board, the overview presenter, the admission
service, the hub status and the archive, and is refreshed by the UI clock (4 Hz). Every nurse
action goes through here with the nurse id currently entered on screen.
"""

from __future__ import annotations

import threading
import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fetal_monitor_station.admission import AdmissionService
from fetal_monitor_station.archive.store import ArchiveReader
from fetal_monitor_station.episodes import Episode
from fetal_monitor_station.errors import EpisodeError, StationError
from fetal_monitor_station.idcard.protocol import CardHolder
from fetal_monitor_station.idcard.reader import IdCardReader
from fetal_monitor_station.nurse_journal import NurseJournal
from fetal_monitor_station.report.service import ReportPrinter, ReportResult, ReportService
from fetal_monitor_station.station import BedView, Station
from fetal_monitor_station.ui.alarm_board import AlarmBoard
from fetal_monitor_station.ui.archive_search import search
from fetal_monitor_station.ui.detail import ArchiveTraceSource, DetailPresenter
from fetal_monitor_station.ui.feed import StationFeed
from fetal_monitor_station.ui.hub_status import HubStatus, HubStatusPresenter
from fetal_monitor_station.ui.overview import OverviewPresenter, Page


def staff_id(holder: CardHolder) -> str:
    return f"{holder.name}-{holder.id_number[-4:]}"


def _default_font() -> Path:
    from fetal_monitor_station.ui.fonts import cjk_font

    return cjk_font()


@dataclass(frozen=True)
class Snapshot:
    views: list[BedView]
    page: Page
    hub: HubStatus
    audio_priority: int


class NurseStation:
    def __init__(self, station: Station, journal: NurseJournal, *, link: Any = None,
                 clock: Callable[[], float] = _time.time, layout: str = "auto", mask_names: bool = True,
                 station_id: str = "station", reports_dir: Path | None = None, font: Path | None = None,
                 printer: ReportPrinter | None = None, card_reader: IdCardReader | None = None,
                 card_error: str = "") -> None:
        self.station = station
        self.journal = journal
        self._clock = clock
        self.feed = StationFeed(self._episode_start, clock)
        station.listeners.append(self.feed.listener)
        self.board = AlarmBoard(station, journal, clock)
        self.overview = OverviewPresenter(self.board.bed_priority, clock, layout, mask_names)
        self.admission = AdmissionService(station, journal, clock, station_id)
        self.card_reader = card_reader  # None: the ID card is typed (card_error says why, if a reader failed)
        self.card_error = card_error
        self._card_lock = threading.Lock()
        self.hub = HubStatusPresenter(link, clock)
        self._reader: ArchiveReader | None = None
        self._starts: dict[int, float] = {}
        self.nurse_id = ""
        self.reports = ReportService(
            station_id, reports_dir or self.archive_path.with_name("reports"), self.reader, journal, station,
            font or _default_font(), printer=printer,
            live_tail=lambda ep, after: self.feed.samples(ep.bed_id, ep.episode_id, after), clock=clock)

    def _episode_start(self, episode_id: int) -> float | None:
        start = self._starts.get(episode_id)
        if start is None:
            try:
                start = self._starts[episode_id] = self.station.book.get(episode_id).admitted_s
            except EpisodeError:
                return None
        return start

    @property
    def archive_path(self) -> Path:
        return self.station.archive.path

    def reader(self) -> ArchiveReader:
        if self._reader is None:
            self._reader = ArchiveReader(self.archive_path)
        return self._reader

    def refresh(self) -> Snapshot:
        """Called by the UI clock: take the engine's alarm changes, build the overview page."""
        self.board.apply(self.feed.take_alarms())
        views = self.station.views()
        return Snapshot(views, self.overview.page(views), self.hub.status(), self.board.audio_priority())

    def view_of(self, bed_id: str) -> BedView:
        for v in self.station.views():
            if v.bed_id == bed_id:
                return v
        raise EpisodeError(f"no bed {bed_id}")

    def detail(self, episode: Episode, *, width_mm: float = 270.0, speed_cm_min: int = 3,
               fhr_scale: str = "50-210") -> DetailPresenter:
        source = ArchiveTraceSource(self.reader(), self.feed)
        return DetailPresenter(episode, source, self._clock, width_mm=width_mm, speed_cm_min=speed_cm_min,
                               fhr_scale=fhr_scale, time_label=lambda t: _time.strftime("%H:%M", _time.localtime(t)),
                               notes=self._notes)

    def _notes(self, episode: Episode, start_s: float, end_s: float) -> list[tuple[float, str]]:
        return [(n.at_ms / 1000, n.text) for n in self.journal.notes(episode.episode_id, int(start_s * 1000),
                                                                       int(end_s * 1000))]

    def search(self, query: str) -> list[Episode]:
        return search(self.station.book, query)

    # -- ID card (patient at admission, nurse's own card for the nurse id) ------------------
    def read_card(self) -> CardHolder:
        """The card on the reader; blocking (~0.2 s): the screen calls it off the UI thread."""
        if self.card_reader is None:
            raise StationError(self.card_error or "no ID-card reader configured: type the details")
        with self._card_lock:  # one transaction on the serial line at a time
            holder = self.card_reader.read()
        if holder is None:
            raise StationError("no card on the reader")
        return holder

    def nurse_from_card(self) -> str:
        """Nurse id from her own ID card (the station's reader is the staff-card reader): name and the
        last four characters of the ID number, so two nurses of one name stay apart in the audit."""
        holder = self.read_card()
        self.nurse_id = staff_id(holder)
        return self.nurse_id

    # -- nurse actions with the entered nurse id ------------------------------------------
    def print_report(self, episode: Episode, start_s: float, end_s: float) -> ReportResult:
        return self.reports.make(episode, start_s, end_s, self.nurse_id)

    def acknowledge(self, alarm_id: str) -> None:
        self.board.acknowledge(alarm_id, self.nurse_id)

    def silence(self) -> float:
        return self.board.silence(self.nurse_id)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
