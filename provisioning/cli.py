"""`mch-provision`: the technicians' CLI for the site CA, enrolment and revocation.

Exit status: 0 done, 1 a provisioning error (message on stderr), 2 bad usage.
The site passphrase comes from --passphrase-file, $MCH_CA_PASSPHRASE or a prompt, never argv.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from mch_link.registry import HUB_ID_RE, DeviceKind
from provisioning import (
    cli_board,
    cli_ceremony,
    cli_doctor,
    cli_firmware,
    cli_inspect,
    cli_journal,
    cli_renew,
    pki,
    usb,
    views,
)
from provisioning.errors import ProvisioningError
from provisioning.migrate import migrate
from provisioning.passphrase import ENV_VAR, ROOT_ENV_VAR, get_passphrase, get_root_passphrase
from provisioning.site import DEFAULT_BROKER_HOST, DEFAULT_BROKER_PORT, Site

EXIT_OK = 0
EXIT_ERROR = 1
PROG = "mch-provision"
CRL_WARN_BEFORE = timedelta(days=7)  # an expired CRL locks every device out of the broker


def _site_args(p: argparse.ArgumentParser, passphrase: bool = True, root: bool = False) -> None:
    p.add_argument("--site", type=Path, required=True, metavar="DIR", help="the site directory")
    cli_journal.add_technician_arg(p)
    if passphrase:
        p.add_argument("--passphrase-file", type=Path, metavar="FILE",
                       help=f"file holding the site (issuing CA) passphrase (else ${ENV_VAR}, else a prompt)")
    if root:
        p.add_argument("--root-passphrase-file", type=Path, metavar="FILE",
                       help=f"file holding the root CA passphrase, not the site one (else ${ROOT_ENV_VAR}, "
                            "else a prompt)")


def build_parser() -> argparse.ArgumentParser:
    # no abbreviations: `--passphrase SECRET` must not be taken as `--passphrase-file`
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0] if __doc__ else None,
                                     allow_abbrev=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init-site", allow_abbrev=False,
                       help="create the site CA, broker certificate and hub identities")
    _site_args(p, root=True)
    p.add_argument("--site-id", required=True, help="short name of the site, e.g. county-mch-1")
    p.add_argument("--broker-host", default=DEFAULT_BROKER_HOST,
                   help="host name or IP devices use for the broker (put in its certificate)")
    p.add_argument("--broker-port", type=int, default=DEFAULT_BROKER_PORT)
    p.add_argument("--hub", action="append", dest="hubs", metavar="HUB_ID",
                   help="hub identity to issue: 'hub' or 'hub-<n>' (repeatable; default: hub)")

    p = sub.add_parser("enroll", allow_abbrev=False,
                       help="issue a device certificate and link keys, write its bundle, register it")
    _site_args(p)
    p.add_argument("device_id", help="e.g. kiosk-001, station-01, bridge-ctg-001")
    p.add_argument("--kind", required=True, choices=[k.value for k in DeviceKind])
    p.add_argument("--bundle", type=Path, metavar="DIR", help="bundle directory (default <site>/bundles/<id>)")
    p.add_argument("--csr", type=Path, metavar="FILE", help="the device's own CSR (its key never leaves it)")
    p.add_argument("--usb", type=Path, metavar="STICK",
                   help="write the bundle to STICK/mch/bundles/<id>/ with a manifest; with no --csr, use "
                        "STICK/mch/requests/<id>.csr.pem if the device left one (mch-kiosk enroll-request)")
    p.add_argument("--days", type=int, default=pki.DEVICE_VALIDITY.days, help="certificate validity")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("issue-hub", allow_abbrev=False,
                       help="issue another hub identity (hub-<n>)")
    _site_args(p)
    p.add_argument("hub_id")

    p = sub.add_parser("revoke", allow_abbrev=False,
                       help="revoke a device (new CRL for the broker, registry status for the hub) "
                            "or a hub identity (hub-<n>)")
    _site_args(p)
    p.add_argument("device_id", help="a device id, or a hub identity")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation on a terminal")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("handover", allow_abbrev=False,
                       help="copy a bundle made in the site to the device's medium, then delete its keys here")
    _site_args(p, passphrase=False)
    p.add_argument("device_id")
    p.add_argument("--to", type=Path, required=True, metavar="DIR", help="where the device's bundle goes")

    p = sub.add_parser("export", allow_abbrev=False,
                       help="rewrite the deploy views <site>/deploy/{broker,<hub_id>} (kept current anyway)")
    _site_args(p, passphrase=False)

    p = sub.add_parser("migrate", allow_abbrev=False,
                       help="bring a site of an earlier release to the current layout (CA keys, views)")
    _site_args(p, root=True)

    p = sub.add_parser("list", allow_abbrev=False,
                       help="devices, status and certificate expiry")
    _site_args(p, passphrase=False)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("renew-crl", allow_abbrev=False,
                       help="re-issue the CRL before its nextUpdate (run it from cron)")
    _site_args(p)
    p.add_argument("--days", type=int, default=pki.CRL_VALIDITY.days, help="validity of the new CRL")
    p.add_argument("--if-due", type=int, metavar="DAYS",
                   help="only if the current CRL expires within DAYS")

    cli_journal.add_journal_parser(sub, _site_args)
    cli_ceremony.add_ceremony_parser(sub, _site_args)
    cli_board.add_board_parser(sub, _site_args)
    cli_doctor.add_doctor_parser(sub, _site_args)
    cli_inspect.add_inspect_parser(sub, _site_args)
    cli_renew.add_renew_parser(sub, _site_args)
    cli_firmware.add_firmware_parser(sub, _site_args)
    return parser


def _open(args: argparse.Namespace) -> Site:
    return Site.open(args.site, get_passphrase(args.passphrase_file))


def _positive_days(days: int, what: str) -> timedelta:
    if days <= 0:
        raise ProvisioningError(f"{what} must be a positive number of days, got {days}")
    return timedelta(days=days)


def run(args: argparse.Namespace) -> None:
    out = sys.stdout
    if args.command == "init-site":
        site = Site.init(args.site, get_passphrase(args.passphrase_file, confirm=True), args.site_id,
                         root_passphrase=get_root_passphrase(args.root_passphrase_file, confirm=True),
                         broker_host=args.broker_host, broker_port=args.broker_port,
                         hub_ids=args.hubs or ["hub"])
        print(f"site {site.info.site_id} created in {site.path}; hub identities: {', '.join(site.info.hub_ids)}; "
              f"server views in {site.path / 'deploy'}; move ca/root.key.p12 offline", file=out)
    elif args.command == "enroll":
        if args.usb and args.bundle:
            raise ProvisioningError("give --bundle DIR or --usb STICK, not both")
        if args.usb and not args.csr:
            args.csr = usb.request_on_stick(args.usb, args.device_id)
        csr = args.csr.read_bytes() if args.csr else None
        site = _open(args)
        result = site.enroll(args.device_id, args.kind, csr_pem=csr, validity=_positive_days(args.days, "--days"),
                             bundle_dir=usb.bundle_dir(args.usb, args.device_id) if args.usb else args.bundle)
        if args.usb:
            usb.write_manifest(result.bundle)
        if args.json:
            print(json.dumps({"device_id": result.device_id, "kind": result.entry.kind.value,
                              "cert_serial": result.entry.cert_serial, "cert_expires": result.entry.not_after.isoformat(),
                              "bundle": str(result.bundle)}), file=out)
        else:
            print(f"enrolled {result.device_id} ({result.entry.kind}), serial {result.entry.cert_serial}, "
                  f"expires {result.entry.not_after:%Y-%m-%d}; bundle {result.bundle}", file=out)
    elif args.command == "issue-hub":
        ident = _open(args).issue_hub_identity(args.hub_id)
        print(f"hub identity {ident.hub_id}: {ident.cert}; reload the broker (mch-broker reload) to give it its ACL", file=out)
    elif args.command == "revoke" and HUB_ID_RE.match(args.device_id):
        cli_inspect.confirm_destructive(args, f"Revoke hub identity {args.device_id}?")
        _open(args).revoke_hub_identity(args.device_id)
        if args.json:
            print(json.dumps({"revoked": args.device_id, "kind": "hub"}), file=out)
        else:
            print(f"revoked hub identity {args.device_id}; reload the broker (mch-broker reload) so it reads "
                  "the new CRL and ACL", file=out)
    elif args.command == "revoke":
        Site.open(args.site).device(args.device_id)
        cli_inspect.confirm_destructive(args, f"Revoke {args.device_id}? The broker refuses it after reload and "
                                              "its id is never enrolled again.")
        entry = _open(args).revoke(args.device_id)
        if args.json:
            print(json.dumps({"revoked": entry.device_id, "kind": entry.kind.value, "cert_serial": entry.cert_serial}),
                  file=out)
        else:
            print(f"revoked {entry.device_id} (serial {entry.cert_serial}); reload the broker "
                  "(mch-broker reload) so it reads the new CRL", file=out)
    elif args.command == "handover":
        removed = Site.open(args.site).hand_over(args.device_id, args.to)
        print(f"{args.device_id}: bundle copied to {args.to}; removed from the site: {', '.join(removed)}", file=out)
    elif args.command == "export":
        site = Site.open(args.site)
        for view in views.export_all(site.path, site.info.hub_ids):
            print(f"view {view}", file=out)
    elif args.command == "migrate":
        root = get_root_passphrase(args.root_passphrase_file, confirm=True) if _has_legacy_root(args.site) else None
        done = migrate(args.site, get_passphrase(args.passphrase_file), root)
        print("\n".join(done) if done else f"{args.site} is current", file=out)
    elif args.command == "list" and args.json:
        site = Site.open(args.site)
        print(json.dumps({"site_id": site.info.site_id, "crl_next_update": site.crl_next_update().isoformat(),
                          "devices": [{"device_id": e.device_id, "kind": e.kind.value, "status": e.status.value,
                                       "cert_expires": e.not_after.isoformat(), "cert_serial": e.cert_serial}
                                      for e in site.devices()]}), file=out)
    elif args.command == "list":
        _list(Site.open(args.site))
    elif args.command == "renew-crl":
        site = _open(args)
        if args.if_due is not None and site.crl_next_update() - pki.now_utc() > timedelta(days=args.if_due):
            print(f"CRL valid until {site.crl_next_update():%Y-%m-%d %H:%M} UTC; not due", file=out)
            return
        next_update = site.renew_crl(validity=_positive_days(args.days, "--days"))
        print(f"CRL re-issued, next update {next_update:%Y-%m-%d %H:%M} UTC; reload the broker", file=out)
    elif args.command == "journal":
        cli_journal.run_journal(args)
    elif args.command == "ceremony":
        cli_ceremony.run_ceremony_command(args)
    elif args.command == "board":
        cli_board.run_board_command(args)
    elif args.command == "doctor":
        cli_doctor.run_doctor(args)
    elif args.command == "inspect":
        cli_inspect.run_inspect(args)
    elif args.command == "renew":
        print(cli_renew.run_renew(args, _open(args)), file=out)
    elif args.command == "rotate-keys":
        print(cli_renew.run_rotate(args, _open(args)), file=out)
    elif args.command == "crl-url":
        print(cli_renew.run_crl_url(args, _open(args)), file=out)
    elif args.command == "firmware":
        cli_firmware.run_firmware_command(args, out)


def _has_legacy_root(site_dir: Path) -> bool:
    return (site_dir / "ca" / "root.key.pem").exists()


def _list(site: Site) -> None:
    devices = site.devices()
    next_update = site.crl_next_update()
    due = " (RENEW NOW: mch-provision renew-crl)" if next_update - pki.now_utc() < CRL_WARN_BEFORE else ""
    print(f"site {site.info.site_id}: {len(devices)} device(s); CRL next update "
          f"{next_update:%Y-%m-%d %H:%M} UTC{due}")
    print(f"{'DEVICE':<32} {'KIND':<8} {'STATUS':<8} {'CERT EXPIRES':<17} SERIAL")
    for e in devices:
        print(f"{e.device_id:<32} {e.kind.value:<8} {e.status.value:<8} {e.not_after:%Y-%m-%d %H:%M}  {e.cert_serial}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cli_journal.check_before(args)
    except ProvisioningError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        run(args)
    except ProvisioningError as exc:
        return _failed(args, str(exc))
    except OSError as exc:
        return _failed(args, f"{exc.filename or ''}: {exc.strerror}")
    try:
        cli_journal.record(args, "ok")
    except ProvisioningError as exc:
        print(f"{PROG}: error: done, but not journaled: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _failed(args: argparse.Namespace, message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    try:
        cli_journal.record(args, f"error: {message}")
    except ProvisioningError as exc:
        print(f"{PROG}: error: not journaled either: {exc}", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
