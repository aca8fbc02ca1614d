"""`mch-broker`: render the site's mosquitto config, run mosquitto, make it reload its CRL.

    mch-broker run --site VIEW --port N [--run-dir DIR] [--host ADDR]   foreground; Ctrl-C stops
    mch-broker render --site VIEW --port N [--run-dir DIR] [--acl]      print config (or ACL)
    mch-broker reload --site VIEW --run-dir DIR                         after mch-provision revoke

VIEW is the broker's view of the site, <site>/deploy/broker (never the site itself: CA keys).

Exit status: 0 done, 1 an error (message on stderr), 2 bad usage.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from mch_link.sitefiles import ca_keys_in
from mqtt_broker_config import render, rundir
from mqtt_broker_config.errors import BrokerError
from mqtt_broker_config.launcher import BrokerProcess, signal_running

PROG = "mch-broker"
EXIT_OK = 0
EXIT_ERROR = 1
DEFAULT_RUN_DIR = Path("/var/lib/mch-broker")
DEFAULT_PORT = 8883
WAIT_SLICE_S = 0.1
LOG_TAIL_CHARS = 2000
SITE_HELP = "the broker's view of the site: <site>/deploy/broker, kept current by mch-provision"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Mosquitto for an mch site (mTLS, ACL, CRL).",
                                     allow_abbrev=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in (("run", "render the config and run mosquitto in the foreground"),
                       ("render", "print the rendered mosquitto.conf (or the ACL)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--site", type=Path, required=True, metavar="VIEW", help=SITE_HELP)
        p.add_argument("--port", type=int, default=DEFAULT_PORT)
        p.add_argument("--host", default="127.0.0.1", help="listen address (0.0.0.0 for the site network)")
        p.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR, metavar="DIR",
                       help="persistence, log, TLS copies (owned by the broker user)")
        p.add_argument("--user", help="user mosquitto runs as when started as root (default: mosquitto)")
        if name == "render":
            p.add_argument("--acl", action="store_true", help="print the ACL file instead")
    p = sub.add_parser("reload", help="copy the site's CRL/certificates again and SIGHUP the running broker "
                                      "(connected revoked identities are disconnected)")
    p.add_argument("--site", type=Path, required=True, metavar="VIEW", help=SITE_HELP)
    p.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR, metavar="DIR")
    p.add_argument("--user", help="user mosquitto runs as (default: mosquitto when root)")
    return parser


def _run(args: argparse.Namespace) -> int:
    broker = BrokerProcess(args.site, args.run_dir, args.port, args.host, user=args.user)
    pending: list[int] = []  # handlers only record; the loop acts (no re-entrant reload/stop)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        pending.append(signum)

    broker.start()
    for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    print(f"{PROG}: mosquitto pid {broker.pid} on {args.host}:{args.port}, run dir {args.run_dir}, "
          f"log {broker.log_path}", file=sys.stderr)
    while broker.running:
        while pending:
            if pending.pop(0) == signal.SIGHUP:
                broker.reload()
                print(f"{PROG}: reloaded CRL and certificates", file=sys.stderr)
            else:
                broker.stop()
                return EXIT_OK
        try:
            broker.wait(timeout_s=WAIT_SLICE_S)
        except subprocess.TimeoutExpired:
            continue
    print(f"{PROG}: mosquitto exited unexpectedly:\n{broker.log_text()[-LOG_TAIL_CHARS:]}", file=sys.stderr)
    return EXIT_ERROR


def run(args: argparse.Namespace) -> int:
    if ca_keys_in(args.site):
        args.site = render.broker_site_dir(args.site)
        print(f"{PROG}: warning: given the whole site directory; reading only its broker view {args.site}",
              file=sys.stderr)
    if args.command == "run":
        return _run(args)
    if args.command == "render":
        if args.acl:
            sys.stdout.write(render.render_acl(args.site))
        else:
            user = rundir.run_user(args.user)
            sys.stdout.write(render.render_config(args.site, args.run_dir, args.port, args.host, run_user=user.name))
        return EXIT_OK
    user = rundir.run_user(args.user)
    rundir.sync_tls(args.site, args.run_dir, user)
    pid = signal_running(args.run_dir, signal.SIGHUP)
    print(f"{PROG}: sent SIGHUP to mosquitto pid {pid}", file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except BrokerError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
