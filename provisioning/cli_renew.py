"""`mch-provision renew`: a new certificate before expiry, then the old one revoked (two steps).

    mch-provision renew --site S DEVICE --csr FILE --out FILE   from a CSR the technician carries
    mch-provision renew --site S --from-hub [--hub-id hub]       every CSR devices sent over the link
    mch-provision renew --site S DEVICE --finish [--force]       the old serial onto the CRL
    mch-provision rotate-keys --site S DEVICE --out DIR [--grace-days 7]   new envelope keys
    mch-provision crl-url --site S http://HOST/PATH | --clear     the CRL Distribution Point
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from provisioning import pki, renew, rotate, views
from provisioning.cli_inspect import confirm_destructive
from provisioning.errors import ProvisioningError
from provisioning.files import read_bytes, write_public
from provisioning.site import Site


def add_renew_parser(sub: Any, site_args: Any) -> None:
    p = sub.add_parser("renew", allow_abbrev=False,
                       help="renew a device certificate from its CSR; --finish revokes the old one once switched")
    site_args(p)
    p.add_argument("device_id", nargs="?")
    p.add_argument("--csr", type=Path, metavar="FILE", help="the device's renewal CSR (mch-kiosk enroll-request)")
    p.add_argument("--out", type=Path, metavar="FILE", help="where the new certificate goes (device.crt.pem)")
    p.add_argument("--days", type=int, default=pki.DEVICE_VALIDITY.days, help="validity of the new certificate")
    p.add_argument("--finish", action="store_true",
                   help="the device uses its new certificate: put the old one on the CRL (then mch-broker reload)")
    p.add_argument("--from-hub", action="store_true",
                   help="sign the renewal requests devices sent over the link (queued in deploy/<hub>/renewals/)")
    p.add_argument("--hub-id", help="only this hub view's queue (default: every hub's; any worker may take a request)")
    p.add_argument("--force", action="store_true",
                   help="with --finish: revoke even though the hub has not noted the device's switch")
    p.add_argument("--yes", action="store_true", help="with --finish --force: do not ask on a terminal")
    add_rotate_parser(sub, site_args)
    add_crl_url_parser(sub, site_args)


def add_rotate_parser(sub: Any, site_args: Any) -> None:
    p = sub.add_parser("rotate-keys", allow_abbrev=False,
                       help="new envelope (link) keys for a device; the old ones open for a grace window")
    site_args(p)
    p.add_argument("device_id")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="where the device's new link-keys.json goes (its bundle directory or a stick)")
    p.add_argument("--grace-days", type=float, default=rotate.DEFAULT_GRACE.days,
                   help="how long envelopes under the old keys are still accepted (default 7)")


def add_crl_url_parser(sub: Any, site_args: Any) -> None:
    p = sub.add_parser("crl-url", allow_abbrev=False,
                       help="the HTTP URL the CRL is published at, named in every certificate issued from now on")
    site_args(p)
    p.add_argument("url", nargs="?", help="http://HOST[:PORT]/PATH (serve deploy/broker/ca/crl.der there)")
    p.add_argument("--clear", action="store_true", help="issue certificates without a distribution point again")


def run_crl_url(args: argparse.Namespace, site: Site) -> str:
    if bool(args.url) == bool(args.clear):
        raise ProvisioningError("give the URL, or --clear")
    path = site.path / pki.CRL_URL_FILE
    if args.clear:
        path.unlink(missing_ok=True)
    else:
        write_public(path, (pki.validate_crl_url(args.url) + "\n").encode())
    site._issuer = replace(site.issuer(), crl_url=pki.read_crl_url(site.path))  # signatures from now on name it
    next_update = site.renew_crl()  # the CRL names (or stops naming) its distribution point
    views.sync_public(site.path, site.info.hub_ids)
    where = f"at {args.url}" if args.url else "without a distribution point"
    return (f"CRL re-issued {where} (next update {next_update:%Y-%m-%d}); certificates issued from now on name it; "
            "renew older ones before a clustered broker relies on it")


def run_rotate(args: argparse.Namespace, site: Site) -> str:
    if args.grace_days <= 0:
        raise ProvisioningError(f"--grace-days must be positive, got {args.grace_days}")
    rotate.rotate_keys(site, args.device_id, args.out, timedelta(days=args.grace_days))
    return (f"{args.device_id}: new link keys in {args.out}; the old ones are accepted for {args.grace_days:g} days. "
            "Copy the hub views to the hubs, then give the device its new link-keys.json")


def run_renew(args: argparse.Namespace, site: Site) -> str:
    if args.days <= 0:
        raise ProvisioningError(f"--days must be a positive number of days, got {args.days}")
    if args.from_hub:
        if args.device_id or args.csr or args.out or args.finish:
            raise ProvisioningError("--from-hub signs the whole queue: give no device, --csr, --out or --finish")
        result = renew.sign_queued(site, [args.hub_id] if args.hub_id else None, timedelta(days=args.days))
        lines = [f"{device}: not signed: {why}" for device, why in sorted(result.refused.items())]
        if result.signed:
            lines.append(f"signed {len(result.signed)} renewal(s): {', '.join(result.signed)}; copy the hub views to "
                         "the hubs, then mch-provision renew --finish DEVICE once each has switched")
        elif not result.refused:
            lines.append(f"no renewal request queued in {site.path / 'deploy'}/<hub>/{renew.RENEWALS_DIR}")
        if result.refused:
            raise ProvisioningError("\n".join(lines))  # exit 1: the technician must look (what was signed stays)
        return "\n".join(lines)
    if not args.device_id:
        raise ProvisioningError("name the device (or give --from-hub)")
    if args.finish:
        if args.csr or args.out:
            raise ProvisioningError("--finish takes no --csr/--out")
        if args.force:
            confirm_destructive(args, f"Revoke the old certificate of {args.device_id} although the hub has not "
                                      "seen it switch? If it has not, it is refused at the next broker reload.")
        serial = renew.finish(site, args.device_id, force=args.force)
        return (f"{args.device_id}: old certificate {serial} is on the CRL; copy deploy/broker and run "
                "mch-broker reload")
    if not (args.csr and args.out):
        raise ProvisioningError("give --csr FILE and --out FILE (or --finish once the device has switched)")
    cert = renew.renew(site, args.device_id, read_bytes(args.csr, "CSR"), validity=timedelta(days=args.days))
    write_public(args.out, cert)
    entry = site.device(args.device_id)
    return (f"{args.device_id}: new certificate {entry.cert_serial} until {entry.not_after:%Y-%m-%d} in {args.out}; "
            f"both are valid until mch-provision renew --finish {args.device_id}")
