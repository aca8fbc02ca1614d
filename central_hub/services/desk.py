"""`mch-hub registrations`: what became of the registrations kiosks queued while the hub was down.

    mch-hub registrations --site DIR [--db URL] [--state-dir DIR] [--status conflict|refused|created|matched]
                          [--limit 50] [--json]

A conflict (her data differs from the index or from her pregnancy's record) and a refusal (with
its reason) stay here for the desk: nothing was merged or lost. Names and numbers are never shown,
only the patient and record ids, and which fields differ.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from central_hub import report
from central_hub.config import DEFAULT_STATE_SUBDIR
from central_hub.errors import HubError
from central_hub.services.db import SERVICES_DB_FILE, ServicesDb, services_db_url
from central_hub.services.registrations import CONFLICT, CREATED, MATCHED, REFUSED, registrations
from central_hub.store import SQLITE_PREFIX

COMMAND = "registrations"


def add_parser(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser, bool], None]) -> None:
    p = sub.add_parser(COMMAND, help="queued kiosk registrations taken in: conflicts and refusals for the desk")
    common(p, False)
    p.add_argument("--status", choices=[CONFLICT, REFUSED, CREATED, MATCHED], help="only these")
    p.add_argument("--limit", type=int, default=50, help="newest N (default 50)")


def main(args: argparse.Namespace, db_url: Callable[[argparse.Namespace], str]) -> int:
    state = Path(args.state_dir) if args.state_dir else Path(args.site or ".") / DEFAULT_STATE_SUBDIR
    url = services_db_url(db_url(args), state)
    if url.startswith(SQLITE_PREFIX) and not (state / SERVICES_DB_FILE).exists():
        raise HubError(f"no services database at {state / SERVICES_DB_FILE} (have the hub's services run?)")
    db = ServicesDb(url)
    try:
        items = registrations(db, args.status, args.limit)
    finally:
        db.close()
    if args.json:
        print(json.dumps([asdict(r) for r in items], indent=2, ensure_ascii=False))
    else:
        now = int(time.time() * 1000)
        print(report.table(["kiosk", "msg", "status", "patient", "record", "taken in", "detail"],
                           [[r.device_id, r.msg_id, r.status, r.patient_id, r.record_id, report.when(r.created_ms, now),
                             r.detail] for r in items]))
    return 0
