"""``mch-kiosk``: the kiosk's command line.

    mch-kiosk run --config /etc/mch/kiosk.toml --bundle /etc/mch/bundle   # the patient app, fullscreen
    mch-kiosk run --simulate --bundle DIR --windowed                     # on the device simulators
    mch-kiosk selftest --config /etc/mch/kiosk.toml   # check the real devices
    mch-kiosk selftest --simulate                     # every device on its simulator
    mch-kiosk check-config FILE                       # validate a configuration file
    mch-kiosk hash-credential TECHNICIAN_ID           # a technician credential for the app settings

Exit status: 0 all OK, 1 a device fault, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from kiosk.config import KioskConfig, load_config
from kiosk.errors import KioskDeviceError
from mch_link.enrolment_cli import COMMANDS as ENROLMENT_COMMANDS
from mch_link.enrolment_cli import add_enrolment_commands, run_enrolment_command

EXIT_OK = 0
EXIT_FAULT = 1
EXIT_USAGE = 2
CONFIG_ENV = "MCH_KIOSK_CONFIG"
PROG = "mch-kiosk"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Maternal-child health self-service kiosk tools.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log driver activity to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    st = sub.add_parser("selftest", help="check every configured device with a harmless round trip",
                        description="Check every configured device; prints OK/FAULT per device. "
                                    "Exit 0 only if all are OK.")
    st.add_argument("--config", type=Path, default=os.environ.get(CONFIG_ENV),
                    help=f"kiosk configuration (.toml or .json; default ${CONFIG_ENV})")
    st.add_argument("--simulate", action="store_true",
                    help="start every device's simulator first (no hardware needed; uses pcscd and cupsd)")
    cc = sub.add_parser("check-config", help="validate a kiosk configuration file")
    cc.add_argument("config", type=Path)
    run = sub.add_parser("run", help="start the patient self-service app",
                         description="Start the patient app on the configured devices (or --simulate), "
                                     "joined to the hub with the device bundle from mch-provision.")
    run.add_argument("--config", type=Path, default=os.environ.get(CONFIG_ENV),
                     help=f"kiosk device configuration (.toml or .json; default ${CONFIG_ENV})")
    run.add_argument("--app-config", type=Path, help="app settings ([app] table: hospital, terminal_id, idle_s, "
                                                     "technicians, ...); defaults otherwise")
    run.add_argument("--bundle", type=Path, required=True, help="the kiosk's device bundle (mch-provision enroll)")
    run.add_argument("--broker", metavar="HOST:PORT", help="broker address instead of the bundle's")
    run.add_argument("--simulate", action="store_true", help="every device on its simulator, demo PIN-pad keys")
    run.add_argument("--windowed", action="store_true", help="a 1280x800 window instead of fullscreen")
    hc = sub.add_parser("hash-credential", help="hash a technician PIN (read from stdin) for the app settings")
    hc.add_argument("technician_id")
    add_enrolment_commands(sub)
    return parser


def _selftest(config_path: Path | None, simulate: bool) -> int:
    from kiosk.selftest import CHECKS, check_touch_simulated, format_table, run_selftest

    config = load_config(config_path) if config_path else None
    if simulate:
        from kiosk.simulation import simulated

        with simulated(config) as sim:
            checks = {**CHECKS, "touch": check_touch_simulated}
            results = run_selftest(sim.config, checks=checks, known_faults=sim.faults)
    else:
        if config is None:
            raise _UsageError(f"no configuration: pass --config FILE, set ${CONFIG_ENV}, or use --simulate")
        if not config.devices():
            raise KioskDeviceError("config", f"{config_path} configures no device")
        results = run_selftest(config)
    print(format_table(results))
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAULT


class _UsageError(Exception):
    """The command line cannot be carried out as given (exit 2)."""


def _check_config(path: Path) -> int:
    config: KioskConfig = load_config(path)
    print(f"{path}: OK, devices: {', '.join(config.devices()) or 'none'}")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from kiosk.app.launch import run
    from kiosk.app.settings import AppSettings, load_settings
    from mch_link.device import DeviceConfig
    from mch_link.errors import LinkError

    config = load_config(args.config) if args.config else KioskConfig()
    if not args.simulate and not config.devices():
        raise KioskDeviceError("config", f"no devices configured: pass --config FILE, set ${CONFIG_ENV}, "
                                         "or use --simulate")
    settings = load_settings(args.app_config) if args.app_config else AppSettings()
    try:
        DeviceConfig.from_bundle(args.bundle)
    except LinkError as exc:
        raise KioskDeviceError("config", str(exc)) from None
    broker = None
    if args.broker:
        host, _, port = args.broker.rpartition(":")
        if not host or not port.isdigit():
            raise _UsageError(f"--broker {args.broker!r}: use HOST:PORT")
        broker = (host, int(port))
    return run(config, settings, args.bundle, simulate=args.simulate, windowed=args.windowed, broker=broker)


def _hash_credential(technician_id: str) -> int:
    import getpass

    from kiosk.flows.maintenance import hash_credential

    pin = getpass.getpass("technician PIN: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    if not pin.isdigit() or not 6 <= len(pin) <= 12:
        print(f"{PROG}: error: the PIN must be 6 to 12 digits", file=sys.stderr)
        return EXIT_USAGE
    print(f'{technician_id} = "{hash_credential(technician_id, pin)}"')
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "selftest":
            return _selftest(args.config, args.simulate)
        if args.command == "check-config":
            return _check_config(args.config)
        if args.command == "run":
            return _run(args)
        if args.command == "hash-credential":
            return _hash_credential(args.technician_id)
        if args.command in ENROLMENT_COMMANDS:
            return run_enrolment_command(args, PROG)
    except _UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KioskDeviceError as exc:  # a device or a config file that is wrong: a failure, not a usage error
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_FAULT
    parser.print_help(sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
