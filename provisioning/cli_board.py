"""`mch-provision board`: a MicroPython bridge's bundle over its serial raw REPL, then the
device's secrets leave the site."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import serial
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from provisioning.board import DEFAULT_REMOTE_DIR, bundle_files, provision_board, replace_link_keys
from provisioning.bundle import SECRET_FILES
from provisioning.errors import ProvisioningError
from provisioning.rawrepl import RawRepl
from provisioning.site import Site

READ_TIMEOUT_S = 0.05


def add_board_parser(sub: Any, site_args: Any) -> None:
    p = sub.add_parser("board", allow_abbrev=False,
                       help="write an enrolled bridge's bundle onto a MicroPython board over its serial REPL")
    site_args(p, passphrase=False)
    p.add_argument("device_id", help="an enrolled device whose bundle is in <site>/bundles/<id>")
    p.add_argument("--port", required=True, metavar="URL", help="serial port or pyserial URL, e.g. /dev/ttyUSB0")
    p.add_argument("--baud", type=int, default=115200)
    p.add_argument("--remote-dir", default=DEFAULT_REMOTE_DIR, metavar="PATH", help="bundle directory on the board")
    p.add_argument("--bundle", type=Path, metavar="DIR", help="the bundle (default <site>/bundles/<id>)")
    p.add_argument("--keep-in-site", action="store_true",
                   help="do not delete the device's key and link keys from the site afterwards")
    p.add_argument("--link-keys", type=Path, metavar="FILE",
                   help="only replace the board's link keys with this file (mch-provision rotate-keys --out)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def run_board_command(args: argparse.Namespace) -> None:
    site = Site.open(args.site)
    site.device(args.device_id)
    if args.link_keys:
        _replace_link_keys(args)
        return
    bundle = args.bundle or site.default_bundle_dir(args.device_id)
    if not all((bundle / n).exists() for n in SECRET_FILES):
        raise ProvisioningError(f"{bundle} lacks the device's key or link keys: already written to a board "
                                "(they leave the site afterwards)? A device id is never reused: revoke it and "
                                "enrol the board under a new id")
    port = _open_port(args)
    total = sum(len(d) for d in bundle_files(bundle).values())
    try:
        with Progress(console=Console(stderr=True), disable=args.json, transient=True) as bar:
            task = bar.add_task(f"{args.device_id} -> {args.port}", total=total)
            written = provision_board(RawRepl(port, name=args.port), bundle, args.device_id, args.remote_dir,
                                      progress=lambda n: bar.advance(task, n))
    finally:
        port.close()
    removed = [] if args.keep_in_site else [n for n in SECRET_FILES if (bundle / n).exists()]
    for name in removed:
        (bundle / name).unlink()
    args.journal_details = {"files": {f.name: f.sha256 for f in written}, "removed_from_site": removed}
    if args.json:
        print(json.dumps({"device_id": args.device_id, "port": args.port, "remote_dir": args.remote_dir,
                          "files": [vars(f) for f in written], "removed_from_site": removed}))
        return
    table = Table(title=f"{args.device_id} on {args.port}:{args.remote_dir}")
    for col in ("file", "bytes", "SHA-256 (checked on the board)"):
        table.add_column(col)
    for f in written:
        table.add_row(f.name, str(f.size), f.sha256)
    console = Console(width=140)
    console.print(table)
    console.print(f"removed from the site: {', '.join(removed) or 'nothing (--keep-in-site)'}")


def _open_port(args: argparse.Namespace) -> serial.Serial:
    try:
        return serial.serial_for_url(args.port, baudrate=args.baud, timeout=READ_TIMEOUT_S)
    except (serial.SerialException, ValueError) as exc:
        raise ProvisioningError(f"cannot open {args.port}: {exc}; check the cable and that no other program "
                                "(mpremote, a terminal) holds the port") from None


def _replace_link_keys(args: argparse.Namespace) -> None:
    port = _open_port(args)
    try:
        written = replace_link_keys(RawRepl(port, name=args.port), args.link_keys, args.device_id, args.remote_dir)
    finally:
        port.close()
    args.journal_details = {"files": {written.name: written.sha256}, "link_keys_only": True}
    if args.json:
        print(json.dumps({"device_id": args.device_id, "port": args.port, "remote_dir": args.remote_dir,
                          "files": [vars(written)], "removed_from_site": []}))
        return
    print(f"{args.device_id}: link keys replaced on {args.port}:{args.remote_dir} (SHA-256 {written.sha256} checked "
          f"on the board); reset the board within the grace window, then wipe {args.link_keys}")
