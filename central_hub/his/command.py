"""`mch-hub his import FILE`: the HIS's records (JSON lines) into the hub's record store.

    mch-hub his import FILE|- --site DIR [--db URL] [--state-dir DIR] [--json]

Each line ``{"schema": "antenatal-booking/1" | "antenatal-visit/1" | "delivery/1", "record": {...}}``.
Prints one line per refused record (line number and reason) on stderr and a summary on stdout
(``--json``: every outcome). Exit 0 when every record was stored or already stored, 1 when any was
refused or the file cannot be read (the good ones are stored all the same; send the file again
once the bad ones are fixed: what is stored already is not stored twice), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from central_hub.config import DEFAULT_STATE_SUBDIR
from central_hub.datakey import KEY_FILE, load
from central_hub.errors import HubError
from central_hub.his.inbound import ALREADY, REFUSED, STORED, HisInbound
from central_hub.store import open_store

EXIT_OK, EXIT_ERROR = 0, 1


def add_parser(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser, bool], None]) -> None:
    his = sub.add_parser("his", help="the hospital clinic system's (HIS) records into the hub")
    hsub = his.add_subparsers(dest="his_command", required=True, metavar="HIS_COMMAND")
    imp = hsub.add_parser("import", help="store booking, visit and delivery records from a JSON-lines file")
    common(imp, False)
    imp.add_argument("file", help="JSON lines, one record each ('-' = standard input)")


def main(args: argparse.Namespace, db_url: Callable[[argparse.Namespace], str]) -> int:
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HubError(f"cannot read {args.file}: {exc}") from None
    if args.site is None and args.state_dir is None:
        raise HubError("give --site DIR (or --state-dir DIR): the data key seals the records at rest")
    state = Path(args.state_dir) if args.state_dir else Path(args.site) / DEFAULT_STATE_SUBDIR
    store = open_store(db_url(args))
    try:
        outcomes = HisInbound(store, load(state / KEY_FILE)).take(text.splitlines())
    finally:
        store.close()
    counts = Counter(o.status for o in outcomes)
    for o in outcomes:
        if o.status == REFUSED:
            print(f"mch-hub his: line {o.line}: refused: {o.reason}", file=sys.stderr)
    if args.json:
        print(json.dumps([asdict(o) for o in outcomes], indent=2, ensure_ascii=False))
    else:
        print(f"stored {counts[STORED]}, already stored {counts[ALREADY]}, refused {counts[REFUSED]}")
    return EXIT_ERROR if counts[REFUSED] else EXIT_OK
