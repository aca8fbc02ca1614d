"""`mch-provision inspect DEVICE`: one device's registry entry, certificate, CRL standing and
journal history; and the confirmation asked before a destructive command on a terminal."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from rich.console import Console
from rich.table import Table

from provisioning import pki
from provisioning.bundle import CERT_FILE
from provisioning.errors import ProvisioningError
from provisioning.journal import Journal
from provisioning.site import Site

CERT_WARN_BEFORE = timedelta(days=30)


def add_inspect_parser(sub: Any, site_args: Any) -> None:
    p = sub.add_parser("inspect", allow_abbrev=False,
                       help="one device: status, certificate and CRL expiry, what the journal says about it")
    site_args(p, passphrase=False)
    p.add_argument("device_id")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def describe(site: Site, device_id: str) -> dict[str, Any]:
    entry = site.device(device_id)
    now = pki.now_utc()
    crl = site.crl()
    on_crl = int(entry.cert_serial, 16) in pki.crl_entries(crl)
    info: dict[str, Any] = {
        "device_id": entry.device_id, "kind": entry.kind.value, "status": entry.status.value,
        "cert_serial": entry.cert_serial, "cert_expires": entry.not_after.isoformat(),
        "cert_days_left": (entry.not_after - now).days, "revoked_at": entry.revoked_at.isoformat()
        if entry.revoked_at else None, "on_crl": on_crl, "crl_next_update": site.crl_next_update().isoformat(),
        "renew_due": entry.not_after - now < CERT_WARN_BEFORE, "bundle_in_site": None, "cert_sha256": None,
    }
    cert_path = site.default_bundle_dir(device_id) / CERT_FILE
    if cert_path.is_file():
        cert = pki.cert_from_pem(cert_path.read_bytes(), str(cert_path))
        info["cert_sha256"] = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
        info["bundle_in_site"] = str(cert_path.parent)
    info["journal"] = [{"seq": e.seq, "at": e.at, "technician": e.technician, "action": e.action,
                        "outcome": e.outcome} for e in Journal(site.path).verify() if e.subject == device_id]
    return info


def run_inspect(args: argparse.Namespace) -> None:
    info = describe(Site.open(args.site), args.device_id)
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
        return
    table = Table(title=f"{info['device_id']} ({info['kind']})", show_header=False)
    for key in ("status", "cert_serial", "cert_expires", "cert_days_left", "revoked_at", "on_crl",
                "crl_next_update", "cert_sha256", "bundle_in_site"):
        value = info[key]
        table.add_row(key, "" if value is None else str(value))
    if info["renew_due"] and info["status"] == "active":
        table.add_row("renew", "[yellow]certificate expires within 30 days: mch-provision renew (over the link: renew --from-hub)[/]")
    console = Console(width=140)
    console.print(table)
    history = Table(title="journal")
    for col in ("#", "when (UTC)", "technician", "action", "outcome"):
        history.add_column(col)
    for e in info["journal"]:
        history.add_row(str(e["seq"]), e["at"], e["technician"], e["action"], e["outcome"])
    console.print(history)


def confirm_destructive(args: argparse.Namespace, what: str) -> None:
    """On a terminal, the technician types the id to go on (or gives --yes); scripts and cron
    (no terminal) are not asked, as before."""
    if getattr(args, "yes", False) or not sys.stdin.isatty():
        return
    answer = input(f"{what} This cannot be undone. Type {args.device_id} to confirm: ").strip()
    if answer != args.device_id:
        raise ProvisioningError(f"not confirmed: nothing done to {args.device_id} (or give --yes)")
