"""`mch-station ui`: the station engine and the nurses' screen in one process."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from fetal_monitor_station.alarm_journal import journal_path
from fetal_monitor_station.errors import StationError

if TYPE_CHECKING:
    from fetal_monitor_station.config import StationConfig
    from fetal_monitor_station.idcard.reader import IdCardReader

__all__ = ["add_arguments", "journal_path", "open_card_reader", "run_ui"]
log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, type=Path, help="station config (.toml or .json)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="first language (switchable on screen)")
    p.add_argument("--layout", default="auto", help="overview grid: auto, 1x2, 2x2, 3x2, 3x3, 4x2, 4x3 or 4x4")
    p.add_argument("--printer", default=None, metavar="QUEUE", help="CUPS queue for CTG reports")
    p.add_argument("--cups-server", default="localhost:631", metavar="HOST:PORT")
    p.add_argument("--fullscreen", action="store_true", help="full screen (the ward's central display)")
    p.add_argument("--size", default="1280x800", metavar="WxH", help="window size when not full screen")
    p.add_argument("--no-mask", action="store_true", help="show full names on the overview (private room)")
    p.add_argument("--font", type=Path, default=None, help="CJK font file (default: WenQuanYi / Noto CJK)")
    p.add_argument("--volume", type=float, default=0.8, help="alarm volume 0..1 (high priority never below 0.6)")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="close after S seconds (tests)")


def open_card_reader(config: StationConfig) -> tuple[IdCardReader | None, str]:
    """The configured ID-card reader; one that cannot be opened leaves typing (and says why), never
    stops the screen."""
    if config.idcard is None:
        return None, ""
    from fetal_monitor_station.idcard.reader import open_reader

    try:
        return open_reader(config.idcard.url, config.idcard.baudrate), ""
    except StationError as exc:
        log.warning("%s", exc)
        return None, str(exc)


def run_ui(args: argparse.Namespace) -> int:
    from fetal_monitor_station.config import load_config
    from fetal_monitor_station.health import PrinterWatch
    from fetal_monitor_station.report.printing import CupsPrinter
    from fetal_monitor_station.runtime import build_station, open_journal, report_health
    from fetal_monitor_station.ui.app import build_app, configure_kivy
    from fetal_monitor_station.ui.controller import NurseStation
    from fetal_monitor_station.ui.fonts import cjk_font
    from fetal_monitor_station.ui.overview import choose_layout

    width, _, height = args.size.partition("x")
    if not (width.isdigit() and height.isdigit()):
        raise StationError(f"--size: want WxH, e.g. 1280x800, got {args.size!r}")
    try:
        choose_layout(1, args.layout)
    except ValueError as exc:
        raise StationError(f"--layout: {exc}") from None
    font = cjk_font(args.font)
    config = load_config(args.config)
    station, link = build_station(config)
    journal = open_journal(config, station)
    health = report_health(config, station, link)
    printer = PrinterWatch(CupsPrinter(args.printer, args.cups_server), station.clock) if args.printer else None
    health.printer = printer
    card_reader, card_error = open_card_reader(config)
    nurse = NurseStation(station, journal, link=link, layout=args.layout, mask_names=not args.no_mask,
                         station_id=config.station_id, font=font, printer=printer, card_reader=card_reader,
                         card_error=card_error)
    configure_kivy(int(width), int(height), args.fullscreen)
    from fetal_monitor_station.ui.sound import AlarmSound

    app = build_app(nurse, font, args.lang, sound=AlarmSound(config.archive.parent / "sounds", args.volume))
    if link is not None:
        link.start()
    station.start()
    if args.duration is not None:
        from kivy.clock import Clock

        Clock.schedule_once(lambda _dt: app.stop(), args.duration)
    try:
        app.run()
    finally:
        station.stop()
        nurse.close()
        station.archive.close()
        journal.close()
        if link is not None:
            link.stop()
    return 0
