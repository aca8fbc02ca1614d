"""The journal side of `mch-provision`: every command that changes a site is journaled, and
`mch-provision journal show|verify|sync`.

A command on a site whose journal is broken is refused before it does anything (the action
could not be recorded); the error names what to do.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from mch_link import registry
from mch_link.sitefiles import hub_view
from provisioning.journal import JOURNAL_DIR, Journal, JournalTamperedError

TECHNICIAN_ENV = "MCH_TECHNICIAN"
READ_ONLY = frozenset({"list", "journal", "doctor", "inspect"})
NOT_DETAILS = frozenset({"command", "site", "passphrase_file", "root_passphrase_file", "technician", "json", "yes",
                         "journal_details", "hub_passphrase_file"})
SUBJECT_ARGS = ("device_id", "hub_id", "site_id")


def add_technician_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--technician", metavar="NAME",
                   help=f"who is acting, for the journal (else ${TECHNICIAN_ENV}, else the login name)")


def technician(args: argparse.Namespace) -> str:
    name = getattr(args, "technician", None) or os.environ.get(TECHNICIAN_ENV)
    return name or getpass.getuser()


def _site_dir(args: argparse.Namespace) -> Path | None:
    site = getattr(args, "site", None)
    return site if isinstance(site, Path) else None


def journaled(args: argparse.Namespace) -> bool:
    sync = args.command == "journal" and args.journal_command == "sync"
    return (sync or args.command not in READ_ONLY) and _site_dir(args) is not None


def check_before(args: argparse.Namespace) -> None:
    """Refuse to act on a site whose journal is broken (JournalTamperedError, with the fix)."""
    site = _site_dir(args)
    if not journaled(args) or site is None or not (site / registry.SITE_FILE).exists():
        return
    try:
        Journal(site).verify()
    except JournalTamperedError as exc:
        raise JournalTamperedError(Journal(site).path, exc.seq,
                                   f"{exc.reason}. Nothing was done. Keep {site / JOURNAL_DIR} as evidence, "
                                   "report it, compare with the hub's copy (mch-provision journal verify "
                                   "--against DIR), then move it aside to start a new journal") from None


def details(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in sorted(vars(args).items()):
        if key in NOT_DETAILS or key in SUBJECT_ARGS or value is None or value is False:
            continue
        out[key] = str(value) if isinstance(value, Path) else value
    return out


def record(args: argparse.Namespace, outcome: str) -> None:
    """One entry for the command just run (success or failure), if the site exists."""
    site = _site_dir(args)
    if not journaled(args) or site is None or not (site / registry.SITE_FILE).exists():
        return
    subject = next((str(getattr(args, a)) for a in SUBJECT_ARGS if getattr(args, a, None)), "")
    if not subject:
        subject = registry.load_site_info(site).site_id
    Journal(site).append(args.command, subject, technician=technician(args), outcome=outcome,
                         details={**details(args), **getattr(args, "journal_details", {})})


def add_journal_parser(sub: Any, site_args: Any) -> None:
    p = sub.add_parser("journal", allow_abbrev=False, help="the technician journal: show, verify, sync to the hub")
    jsub = p.add_subparsers(dest="journal_command", required=True, metavar="ACTION")
    for name, text in (("show", "print the entries"), ("verify", "check the hash chain (exit 1 if broken)"),
                       ("sync", "append the entries the hub's copy lacks to it")):
        jp = jsub.add_parser(name, allow_abbrev=False, help=text)
        site_args(jp, passphrase=False)
        jp.add_argument("--json", action="store_true", help="machine-readable output")
        if name == "verify":
            jp.add_argument("--against", type=Path, metavar="DIR", help="the hub's copy: check the journal extends it")
        if name == "sync":
            jp.add_argument("--to", type=Path, metavar="DIR",
                            help="the hub's copy (default <site>/deploy/<first hub>/journal: rsync the view)")


def run_journal(args: argparse.Namespace) -> None:
    journal = Journal(args.site)
    out = sys.stdout
    if args.journal_command == "sync":
        dest = args.to or hub_view(args.site, registry.load_site_info(args.site).hub_ids[0]) / JOURNAL_DIR
        added = journal.sync(dest)
        head = journal.head()
        print(json.dumps({"synced": added, "to": str(dest), "head_seq": head.seq if head else 0})
              if args.json else f"{added} new entr{'y' if added == 1 else 'ies'} synced to {dest}", file=out)
        return
    entries = journal.verify(against=getattr(args, "against", None))
    if args.json:
        if args.journal_command == "show":
            print(json.dumps([e.body() | {"hash": e.hash} for e in entries], ensure_ascii=False), file=out)
        else:
            print(json.dumps({"ok": True, "entries": len(entries),
                              "head": entries[-1].hash if entries else None}), file=out)
    elif args.journal_command == "show":
        _table(entries)
    else:
        tail = f", head {entries[-1].seq} {entries[-1].hash}" if entries else ""
        print(f"journal intact: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}{tail}", file=out)


def _table(entries: list[Any]) -> None:
    table = Table(title="technician journal")
    for col in ("#", "when (UTC)", "technician", "action", "subject", "outcome"):
        table.add_column(col)
    for e in entries:
        table.add_row(str(e.seq), e.at, e.technician, e.action, e.subject, e.outcome)
    Console(width=140).print(table)
