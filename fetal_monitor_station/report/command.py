"""`mch-station report`: an A4 CTG report of an archived episode, from the command line."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from fetal_monitor_station.errors import StationError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, type=Path, help="station config (.toml or .json)")
    p.add_argument("--episode", required=True, type=int, help="episode id (see the archive screen)")
    p.add_argument("--nurse", required=True, help="nurse id of who makes the report")
    p.add_argument("--minutes", type=float, default=20.0, help="length of the segment (default 20)")
    p.add_argument("--end", default=None, metavar="YYYY-mm-ddTHH:MM",
                   help="end of the segment (default: the episode's end, or now)")
    p.add_argument("--speed", type=int, choices=(1, 2, 3), default=3, help="paper speed in cm/min")
    p.add_argument("--scale", choices=("50-210", "30-240"), default="50-210", help="FHR scale in bpm")
    p.add_argument("--printer", default=None, metavar="QUEUE", help="print on this CUPS queue")
    p.add_argument("--cups-server", default="localhost:631", metavar="HOST:PORT")


def run_report(args: argparse.Namespace) -> int:
    from fetal_monitor_station.alarm_journal import journal_path
    from fetal_monitor_station.archive.store import ArchiveReader
    from fetal_monitor_station.config import load_config
    from fetal_monitor_station.nurse_journal import NurseJournal
    from fetal_monitor_station.report.printing import CupsPrinter
    from fetal_monitor_station.report.service import ReportService
    from fetal_monitor_station.runtime import build_station
    from fetal_monitor_station.ui.fonts import cjk_font

    if not 0 < args.minutes <= 240:
        raise StationError(f"--minutes: want 0..240, got {args.minutes}")
    config = load_config(args.config)
    station, _ = build_station(config)  # not started: its outbox takes the ctg-report/1 record
    journal = NurseJournal(journal_path(config.archive))
    try:
        episode = station.book.get(args.episode)
        if args.end is not None:
            try:
                end_s = time.mktime(time.strptime(args.end, "%Y-%m-%dT%H:%M"))
            except ValueError:
                raise StationError(f"--end: want YYYY-mm-ddTHH:MM, got {args.end!r}") from None
        else:
            end_s = episode.discharged_ms / 1000 if episode.discharged_ms else time.time()
        start_s = max(episode.admitted_s, end_s - args.minutes * 60)
        printer = CupsPrinter(args.printer, args.cups_server) if args.printer else None
        service = ReportService(config.station_id, config.archive.with_name("reports"),
                                lambda: ArchiveReader(config.archive), journal, station, cjk_font(), printer=printer)
        result = service.make(episode, start_s, end_s, args.nurse, speed_cm_min=args.speed, fhr_scale=args.scale)
        station.publisher.flush_all()
    finally:
        journal.close()
        station.archive.close()
    printed = f", printed on {args.printer} (job {result.job_id})" if result.job_id is not None else ""
    print(f"{result.pdf_path} ({result.pages} pages, sha256 {result.sha256[:12]}…){printed}")
    return 0
