"""`enroll-request` and `enroll-install`: the same two subcommands in mch-kiosk and mch-station."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mch_link.enrolment import EnrolmentError, install_bundle, make_request, usb_bundle_dir

COMMANDS = ("enroll-request", "enroll-install")
EXIT_OK, EXIT_FAILURE = 0, 1


def add_enrolment_commands(sub: Any) -> None:
    """Add both subcommands to a CLI's subparsers."""
    rq = sub.add_parser("enroll-request", help="make this device's TLS key here and write a CSR for mch-provision",
                        description="Generate the device key into the bundle directory (0600, never replaced) "
                                    "and write a CSR; the key never leaves the device.")
    rq.add_argument("device_id", help="the id the technician enrols, e.g. kiosk-001")
    rq.add_argument("--bundle", type=Path, required=True, metavar="DIR", help="the device's bundle directory")
    rq.add_argument("--usb", type=Path, metavar="STICK", help="also write STICK/mch/requests/<id>.csr.pem")
    ins = sub.add_parser("enroll-install", help="install the bundle mch-provision issued for this device's CSR",
                         description="Check that the bundle's certificate is for this device's key, then copy "
                                     "certificate, CA chain, config and link keys into the bundle directory.")
    ins.add_argument("--bundle", type=Path, required=True, metavar="DIR", help="the device's bundle directory")
    src = ins.add_mutually_exclusive_group(required=True)
    src.add_argument("--from", dest="source", type=Path, metavar="DIR", help="the issued bundle")
    src.add_argument("--usb", type=Path, metavar="STICK", help="STICK/mch/bundles/<id>/ (id from --device-id)")
    ins.add_argument("--device-id", help="with --usb: which bundle on the stick")


def run_enrolment_command(args: argparse.Namespace, prog: str) -> int:
    try:
        if args.command == "enroll-request":
            csr = make_request(args.device_id, args.bundle, usb=args.usb)
            print(f"key made in {args.bundle}; CSR {csr}: next, on the technician's laptop, "
                  f"mch-provision enroll --site SITE {args.device_id} --kind KIND "
                  + (f"--usb {args.usb}" if args.usb else f"--csr {csr}"))
            return EXIT_OK
        if args.usb is not None and not args.device_id:
            print(f"{prog}: error: --usb needs --device-id", file=sys.stderr)
            return 2
        source = usb_bundle_dir(args.usb, args.device_id) if args.usb is not None else args.source
        names = install_bundle(source, args.bundle)
        print(f"installed {', '.join(names)} into {args.bundle}")
        return EXIT_OK
    except EnrolmentError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
