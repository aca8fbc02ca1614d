"""`mch-provision renew`: a new certificate before expiry, then the old one revoked (two steps)."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import Any

from provisioning import pki, renew
from provisioning.errors import ProvisioningError
from provisioning.files import read_bytes, write_public
from provisioning.site import Site


def add_renew_parser(sub: Any, site_args: Any) -> None:
    p = sub.add_parser("renew", allow_abbrev=False,
                       help="renew a device certificate from its CSR; --finish revokes the old one once switched")
    site_args(p)
    p.add_argument("device_id")
    p.add_argument("--csr", type=Path, metavar="FILE", help="the device's renewal CSR (mch-kiosk enroll-request)")
    p.add_argument("--out", type=Path, metavar="FILE", help="where the new certificate goes (device.crt.pem)")
    p.add_argument("--days", type=int, default=pki.DEVICE_VALIDITY.days, help="validity of the new certificate")
    p.add_argument("--finish", action="store_true",
                   help="the device uses its new certificate: put the old one on the CRL (then mch-broker reload)")


def run_renew(args: argparse.Namespace, site: Site) -> str:
    if args.finish:
        if args.csr or args.out:
            raise ProvisioningError("--finish takes no --csr/--out")
        serial = renew.finish(site, args.device_id)
        return (f"{args.device_id}: old certificate {serial} is on the CRL; copy deploy/broker and run "
                "mch-broker reload")
    if not (args.csr and args.out):
        raise ProvisioningError("give --csr FILE and --out FILE (or --finish once the device has switched)")
    if args.days <= 0:
        raise ProvisioningError(f"--days must be a positive number of days, got {args.days}")
    cert = renew.renew(site, args.device_id, read_bytes(args.csr, "CSR"), validity=timedelta(days=args.days))
    write_public(args.out, cert)
    entry = site.device(args.device_id)
    return (f"{args.device_id}: new certificate {entry.cert_serial} until {entry.not_after:%Y-%m-%d} in {args.out}; "
            f"both are valid until mch-provision renew --finish {args.device_id}")
