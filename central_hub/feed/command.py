"""`mch-hub feed ...`: run the sender, show the queue, list dead letters, requeue, make a test key.

    mch-hub feed run      --site DIR --county URL [--db URL] [--state-dir DIR] [--timeout-s 10] [--batch 100] [--per-bundle 20]
    mch-hub feed status   --site DIR [--db URL] [--json]
    mch-hub feed dead     --site DIR [--db URL] [--limit 50] [--json]
    mch-hub feed requeue  --site DIR (--id N ... | --all-dead) --reason TEXT
    mch-hub feed init-key --site DIR [--state-dir DIR] [--exist-ok]   a county matching key for a test county
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any

from central_hub import report
from central_hub.config import DEFAULT_STATE_SUBDIR
from central_hub.datakey import load_or_create
from central_hub.errors import HubConfigError
from central_hub.feed import blindindex, outbox
from central_hub.feed.backoff import Backoff
from central_hub.feed.county import CountyClient
from central_hub.feed.lease import SenderLease
from central_hub.feed.patients import PatientIndexLookup
from central_hub.feed.sender import FeedSender, run
from central_hub.store import open_store
from mch_link.errors import LinkError
from mch_link.registry import load_site_info

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
READY_LINE = "mch-hub feed: sending to"
LEASE_RETRY_S = 1.0


def add_parser(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser, bool], None]) -> None:
    feed = sub.add_parser("feed", help="the county platform feed (FHIR R4): run, status, dead letters, requeue")
    fsub = feed.add_subparsers(dest="feed_command", required=True, metavar="FEED_COMMAND")
    run_p = fsub.add_parser("run", help="send the outbox to the county until SIGTERM/SIGINT")
    common(run_p, True)
    run_p.add_argument("--county", required=True, help="the county's FHIR base URL (transactions are POSTed to it)")
    run_p.add_argument("--timeout-s", type=float, default=10.0, help="answer timeout per transaction (default 10)")
    run_p.add_argument("--batch", type=int, default=100, help="rows per step (default 100)")
    run_p.add_argument("--per-bundle", type=int, default=20, help="records per transaction at most (default 20)")
    run_p.add_argument("--backoff-cap-s", type=float, default=300.0, help="longest wait between attempts (300)")
    run_p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    common(fsub.add_parser("status", help="queue depth, oldest pending, last success and error"), False)
    dead = fsub.add_parser("dead", help="dead letters with the county's answer")
    common(dead, False)
    dead.add_argument("--limit", type=int, default=50)
    rq = fsub.add_parser("requeue", help="send dead letters again (after the cause is fixed)")
    common(rq, False)
    which = rq.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, action="append", help="outbox row id (repeatable)")
    which.add_argument("--all-dead", action="store_true")
    rq.add_argument("--reason", required=True, help="why (kept with the row)")
    key = fsub.add_parser("init-key", help="write a new county matching key (a test county's)")
    key.add_argument("--site", type=Path, required=True)
    key.add_argument("--state-dir", type=Path)
    key.add_argument("--exist-ok", action="store_true", help="keep a key that is already there (exit 0)")


def main(args: argparse.Namespace, db_url: Callable[[argparse.Namespace], str]) -> int:
    if args.feed_command == "init-key":
        state = _state_dir(args)
        if args.exist_ok and (state / blindindex.KEY_FILE).exists():
            blindindex.load(state)  # still refuse a bad one
            print(f"county matching key {state / blindindex.KEY_FILE} kept")
            return 0
        path = blindindex.create(state)
        print(f"county matching key written to {path} (mode 600); give the county's real key in production")
        return 0
    if args.feed_command == "run":
        return _run(args, db_url(args))
    store = open_store(db_url(args))
    try:
        if args.feed_command == "status":
            status = outbox.feed_status(store)
            print(json.dumps(status, indent=2) if args.json else _status_text(status))
        elif args.feed_command == "dead":
            items = outbox.dead_letters(store, args.limit)
            print(json.dumps([asdict(d) for d in items], indent=2, ensure_ascii=False) if args.json else
                  report.table(["id", "record", "schema", "attempts", "http", "error"],
                               [[d.id, f"{d.device_id}#{d.msg_id}", d.schema_id, d.attempts, d.http_status, d.error]
                                for d in items]))
        else:
            n = outbox.requeue(store, None if args.all_dead else args.id, args.reason)
            print(f"requeued {n} dead letter(s)")
    finally:
        store.close()
    return 0


def _state_dir(args: argparse.Namespace) -> Path:
    return Path(args.state_dir) if args.state_dir else Path(args.site) / DEFAULT_STATE_SUBDIR


def _status_text(s: dict[str, Any]) -> str:
    now = int(time.time() * 1000)
    rows = [["pending", s["pending"]], ["oldest pending", report.when(s["oldest_pending_ms"], now)],
            ["sent", s["sent"]], ["dead letters", s["dead"]], ["skipped", s["skipped"]],
            ["last success", report.when(s["last_success_ms"], now)],
            ["last error", s["last_error"]], ["last error at", report.when(s["last_error_ms"], now)]]
    return report.table(["feed", "value"], rows)


def _run(args: argparse.Namespace, url: str) -> int:
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format=LOG_FORMAT)
    state = _state_dir(args)
    try:
        site_id = load_site_info(args.site).site_id
    except LinkError as exc:
        raise HubConfigError(str(exc)) from None
    cipher, index = load_or_create(state), blindindex.load(state)
    store = open_store(url)
    county = CountyClient(args.county, args.timeout_s)
    patients = PatientIndexLookup(url, state)
    sender = FeedSender(store, cipher, index, site_id, county, Backoff(cap_s=args.backoff_cap_s), args.batch,
                        per_bundle=args.per_bundle, patient_index=patients)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    lease = SenderLease(url)
    try:
        if not lease.try_acquire():
            logging.getLogger("mch-hub feed").warning("another feed sender holds %s; waiting for it to stop",
                                                      lease.where)
            while not lease.try_acquire():
                if stop.wait(LEASE_RETRY_S):
                    return 0
        print(f"{READY_LINE} {args.county}", file=sys.stderr, flush=True)
        run(sender, stop)
    finally:
        lease.release()
        sender.close()
        patients.close()
        county.close()
        store.close()
    return 0
