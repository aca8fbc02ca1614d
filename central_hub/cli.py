"""`mch-hub`: run a hub worker, and look at what it holds.

    mch-hub run --site DIR [--db URL] [--share-group G] [--hub-id hub-1] [--broker HOST:PORT]
    mch-hub status --site DIR [--db URL]        the fleet: online, last seen, firmware, queue, cert expiry
    mch-hub quarantine --site DIR [--reason R]  what was kept aside, and why
    mch-hub stats --site DIR                    totals and each worker's counters
    mch-hub feed run|status|dead|requeue        the county platform feed (central_hub.feed.command)
    mch-hub his import FILE                     the hospital clinic system's records (central_hub.his.command)
    mch-hub registrations [--status conflict]   queued kiosk registrations taken in (central_hub.services.desk)
    mch-hub backup | restore                    database copy, keys apart (central_hub.backup)
    mch-hub report --year Y [--by-area]         annual maternal-care indicators (central_hub.indicators)
    mch-hub web | audit | user                  the operators' dashboard and its accounts (central_hub.ops_cli)
    mch-hub firmware run|status                the firmware update channel (central_hub.firmware_channel)
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
from dataclasses import asdict, replace
from pathlib import Path
from types import FrameType

from central_hub import backup, firmware_channel, indicators, journal_import, ops_cli, report
from central_hub.config import WorkerConfig, check_hub_site, default_db_url
from central_hub.errors import HubError
from central_hub.feed import command as feed_command
from central_hub.his import command as his_command
from central_hub.services import desk
from central_hub.store import open_store
from mch_link.errors import LinkError
from mch_link.registry import scan_registry

EXIT_OK, EXIT_ERROR = 0, 1
SUBSCRIBE_WARN_S = 30.0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mch-hub", description="Central hub: ingest device records, show the fleet.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sp: argparse.ArgumentParser, site_required: bool) -> None:
        sp.add_argument("--site", type=Path, required=site_required,
                        help="the hub's view of the site, <site>/deploy/<hub_id> (never the whole site directory)")
        sp.add_argument("--db", help="sqlite:///<path> (default: <state-dir>/hub.db) or postgresql://...")
        sp.add_argument("--state-dir", type=Path, help="hub state: data key, default database (default <site>/hub/state)")
        if not site_required:
            sp.add_argument("--json", action="store_true", help="machine-readable output")

    run = sub.add_parser("run", help="run a hub worker (until SIGTERM/SIGINT)")
    common(run, True)
    run.add_argument("--hub-id", default="hub", help="hub identity in <site>/hub/ (hub or hub-<n>; default hub)")
    run.add_argument("--share-group", help="split the load with other workers: $share/<group>/...")
    run.add_argument("--broker", help="HOST:PORT, instead of the one in <site>/site.json")
    run.add_argument("--batch-max", type=int, default=500, help="messages per commit at most (default 500)")
    run.add_argument("--batch-ms", type=int, default=10, help="a batch closes this long after its first message")
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    common(sub.add_parser("status", help="fleet table"), False)
    q = sub.add_parser("quarantine", help="list quarantined items with their reasons")
    common(q, False)
    q.add_argument("--reason", help="only this reason (e.g. auth-failed, replay, schema-invalid)")
    q.add_argument("--limit", type=int, default=50, help="newest N items (default 50)")
    common(sub.add_parser("stats", help="totals and worker counters"), False)
    journal = sub.add_parser("journal", help="the technicians' journal (synced into <view>/journal by mch-provision)")
    journal_sub = journal.add_subparsers(dest="journal_command", required=True, metavar="ACTION")
    common(journal_sub.add_parser("import", help="append its new entries to the audit log (exit 1 if tampered)"),
           True)
    feed_command.add_parser(sub, common)
    his_command.add_parser(sub, common)
    desk.add_parser(sub, common)
    backup.add_parsers(sub)
    indicators.add_parser(sub)
    ops_cli.add_commands(sub, common)
    firmware_channel.add_parser(sub, common)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if getattr(args, "site", None) is not None:  # every subcommand: the hub's view, never the whole site
            check_hub_site(args.site, getattr(args, "hub_id", None) or "hub")
        if args.command == "run":
            return _run(args)
        if args.command == "feed":
            return feed_command.main(args, _db_url)
        if args.command == "his":
            return his_command.main(args, _db_url)
        if args.command == desk.COMMAND:
            return desk.main(args, _db_url)
        if args.command in ("backup", "restore"):
            return backup.main(args)
        if args.command == "report":
            return indicators.main(args, args.db or default_db_url(args.site, args.state_dir))
        if args.command in ops_cli.COMMANDS:
            return ops_cli.main(args, _db_url)
        if args.command == "journal":
            return _journal_import(args)
        if args.command == "firmware":
            return firmware_channel.main(args, _db_url)
        return _show(args)
    except (HubError, LinkError) as exc:
        print(f"mch-hub: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _db_url(args: argparse.Namespace) -> str:
    if args.db:
        return str(args.db)
    if args.site is None and args.state_dir is None:
        raise HubError("give --db URL, or --site DIR (the default database lives in its state directory)")
    state = args.state_dir or args.site / "hub" / "state"
    if not (state / "hub.db").exists():
        raise HubError(f"no hub database at {state / 'hub.db'} (has `mch-hub run` been started? or pass --db)")
    return default_db_url(args.site or state, state)


def _journal_import(args: argparse.Namespace) -> int:
    store = open_store(_db_url(args))
    try:
        result = journal_import.import_journal(store, args.site)
    finally:
        store.close()
    print(f"{result.imported} new technician journal entr{'y' if result.imported == 1 else 'ies'} in the audit log "
          f"({result.journal_entries} in {journal_import.journal_path(args.site)})")
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    store = open_store(_db_url(args))
    now_ms = int(time.time() * 1000)
    try:
        if args.command == "status":
            registry = scan_registry(args.site).entries if args.site else {}  # a bad file is a hub fault below
            fleet = store.fleet_rows()
            print(json.dumps(report.fleet_json(fleet, registry, now_ms), indent=2) if args.json
                  else report.fleet_table(fleet, registry, now_ms))
            faults = store.hub_faults()
            if faults and not args.json:
                print("\n" + report.hub_faults_table(faults, now_ms))
        elif args.command == "quarantine":
            items = store.quarantine_rows(args.limit, args.reason)
            print(json.dumps([asdict(q) for q in items], indent=2) if args.json
                  else report.quarantine_table(items, now_ms))
        elif args.json:
            print(json.dumps({"records": store.record_count(), "quarantine": store.quarantine_counts(),
                              "workers": {w: {"updated_ms": at, **c} for w, (at, c) in store.worker_stats().items()}},
                             indent=2))
        else:
            print(report.stats_text(store.record_count(), store.quarantine_counts(), store.fleet_rows(),
                                    store.worker_stats(), now_ms))
    finally:
        store.close()
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from central_hub.storeside import LOG_FORMAT
    from central_hub.worker import HubWorker  # paho only where needed

    logging.basicConfig(level=args.log_level, stream=sys.stderr, format=LOG_FORMAT)
    config = replace(WorkerConfig.from_site(args.site, args.db, args.state_dir, args.hub_id, args.share_group,
                                            args.broker), batch_max_messages=args.batch_max, batch_max_ms=args.batch_ms)
    worker = HubWorker(config, args.log_level)
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker.start()
    warn_at, warned = time.monotonic() + SUBSCRIBE_WARN_S, False
    while not done.wait(0.5):  # a signal stops the hub at once, subscribed or not
        if not warned and time.monotonic() >= warn_at:
            warned = True
            if not worker.wait_subscribed(0):
                logging.getLogger("mch-hub").warning("not subscribed after %.0f s; still trying", SUBSCRIBE_WARN_S)
    logging.getLogger("mch-hub").info("stopping")
    worker.stop()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
