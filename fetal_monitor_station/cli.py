"""`mch-station`: run the station, analyse a recording, start simulated monitors.

Exit status: 0 on success, 2 on bad usage or configuration, 1 on any other failure.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fetal_monitor_station.errors import StationError
from mch_link.enrolment_cli import COMMANDS as ENROLMENT_COMMANDS
from mch_link.enrolment_cli import add_enrolment_commands, run_enrolment_command

EXIT_FAILURE = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mch-station", description="Central fetal-monitoring (CTG) station.")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level to stderr")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="acquire, archive, analyse and publish every configured bed")
    run.add_argument("--config", required=True, type=Path, help="station config (.toml or .json)")
    run.add_argument("--view-interval", type=float, default=1.0, metavar="S", help="live view refresh (s)")
    run.add_argument("--no-view", action="store_true", help="no live view (service mode)")
    run.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    an = sub.add_parser("analyse", help="analyse a recording offline and print the result")
    an.add_argument("file", type=Path, help="recording in a format the analysis reads")
    an.add_argument("--json", action="store_true",
                    help="print one JSON document (baseline per sample, events, classification, alarms) "
                         "instead of the readable summary")
    sim = sub.add_parser("simulate", help="start simulated Corometrics monitors on pseudo-terminals")
    sim.add_argument("--beds", type=int, default=4, help="number of simulated monitors (1..256)")
    sim.add_argument("--speed", type=float, default=1.0, help="1 = real time, 10 = ten times faster")
    sim.add_argument("--dir", type=Path, default=None, help="make stable symlinks <dir>/bed-NN to the ptys")
    sim.add_argument("--seed", type=int, default=1, help="seed of the synthetic traces")
    sim.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    sim.add_argument("--json", action="store_true", help="print the bed->URL map as one JSON line")
    from fetal_monitor_station.report.command import add_arguments as report_arguments
    from fetal_monitor_station.ui.run import add_arguments as ui_arguments

    ui_arguments(sub.add_parser("ui", help="run the station with the nurses' central monitoring screen"))
    report_arguments(sub.add_parser("report", help="make (and print) an A4 CTG report of an archived episode"))
    add_enrolment_commands(sub)
    return p


def _wait(stop: threading.Event, duration_s: float | None, every_s: float, tick: Any = None) -> None:
    end = None if duration_s is None else time.monotonic() + duration_s
    while not stop.is_set() and (end is None or time.monotonic() < end):
        stop.wait(every_s if end is None else max(0.0, min(every_s, end - time.monotonic())))
        if tick is not None:
            tick()


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def cmd_run(args: argparse.Namespace) -> int:
    from fetal_monitor_station.config import load_config
    from fetal_monitor_station.runtime import build_station, open_journal, report_health
    from fetal_monitor_station.view import CLEAR, render

    config = load_config(args.config)
    station, link = build_station(config)
    report_health(config, station, link)
    journal = open_journal(config, station)  # alarms are journalled with no screen running too
    stop = _stop_on_signals()
    tty = sys.stdout.isatty()

    def show() -> None:
        if args.no_view:
            return
        text = render(station.views(), f"{config.station_id}  {time.strftime('%H:%M:%S')}")
        sys.stdout.write((CLEAR if tty else "") + text + "\n")
        sys.stdout.flush()

    if link is not None:
        link.start()
    station.start()
    try:
        _wait(stop, args.duration, args.view_interval, show)
    finally:
        station.stop()
        station.archive.close()
        journal.close()
        if link is not None:
            link.stop()
    return 0


def cmd_analyse(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        raise StationError(f"{args.file}: no such file")
    from fetal_monitor_station.analysis.offline import analyse_file

    try:
        result = analyse_file(args.file)
    except StationError:
        raise
    except Exception as exc:  # a reader that let a library error through: still name the file
        raise StationError(f"{args.file}: cannot analyse ({exc.__class__.__name__}: {exc})") from None
    if args.json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, allow_nan=False, default=str) + "\n")
    else:
        from fetal_monitor_station.analysis_text import format_analysis

        sys.stdout.write(format_analysis(result))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from fetal_monitor_station.simulator.runner import Simulator
    from fetal_monitor_station.simulator.sources import synthetic_sources

    if not 1 <= args.beds <= 256:
        raise StationError(f"--beds: want 1..256, got {args.beds}")
    if args.speed <= 0:
        raise StationError(f"--speed: want > 0, got {args.speed}")
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
    sim = Simulator(speed=args.speed)
    for bed_id, source in synthetic_sources(args.beds, args.seed):
        sim.add(bed_id, source, None if args.dir is None else args.dir / bed_id, loop=True)
    urls = sim.urls()
    if args.json:
        print(json.dumps(urls), flush=True)
    else:
        for bed_id, url in urls.items():
            print(f"{bed_id} {url}", flush=True)
    stop = _stop_on_signals()
    sim.start()
    try:
        _wait(stop, args.duration, 1.0)
    finally:
        sim.stop()
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from fetal_monitor_station.ui.run import run_ui

    return run_ui(args)


def cmd_report(args: argparse.Namespace) -> int:
    from fetal_monitor_station.report.command import run_report

    return run_report(args)


def cmd_enrolment(args: argparse.Namespace) -> int:
    return run_enrolment_command(args, "mch-station")


COMMANDS = {"run": cmd_run, "analyse": cmd_analyse, "simulate": cmd_simulate, "ui": cmd_ui, "report": cmd_report,
            **dict.fromkeys(ENROLMENT_COMMANDS, cmd_enrolment)}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from fetal_monitor_station.errors import ConfigError

    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"mch-station: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StationError as exc:
        print(f"mch-station: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except ImportError as exc:
        print(f"mch-station: {args.command}: a component is missing ({exc})", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:  # the last word to the technician: no traceback, non-zero exit
        print(f"mch-station: {args.command} failed: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
