"""`mch-provision doctor`: the site's checks as a table or --json; exit 1 if any check fails."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table

from provisioning.doctor import FAIL, OK, diagnose
from provisioning.errors import ProvisioningError

STYLE = {OK: "green", "warn": "yellow", FAIL: "bold red"}


def add_doctor_parser(sub: Any, site_args: Any) -> None:
    p = sub.add_parser("doctor", allow_abbrev=False,
                       help="check a site: CA and CRL expiry, registry, journal, broker config, hub reachable")
    site_args(p, passphrase=False)
    p.add_argument("--hub-url", metavar="URL", help="the hub's web address, e.g. http://10.0.0.5:8080")
    p.add_argument("--json", action="store_true", help="machine-readable output")


class DoctorFailed(ProvisioningError):
    """At least one check failed (the table says which)."""


def run_doctor(args: argparse.Namespace) -> None:
    checks = diagnose(args.site, args.hub_url)
    failed = [c.name for c in checks if c.status == FAIL]
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [asdict(c) for c in checks]}, ensure_ascii=False))
    else:
        table = Table(title=f"mch-provision doctor: {args.site}")
        for col in ("check", "status", "found", "fix"):
            table.add_column(col, overflow="fold")
        for c in checks:
            table.add_row(c.name, f"[{STYLE.get(c.status, '')}]{c.status}[/]", c.detail, c.fix)
        Console(width=160).print(table)
    if failed:
        raise DoctorFailed(f"{len(failed)} check(s) failed: {', '.join(failed)}")
