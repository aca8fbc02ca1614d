"""python -m fleet_simulator --bundle DIR [--bundle DIR ...] --rate R --duration S"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from fleet_simulator.fleet import Fleet
from mch_link.errors import LinkError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fleet_simulator", description="Run simulated devices through the real link.")
    p.add_argument("--bundle", action="append", type=Path, required=True, help="device bundle directory (repeat)")
    p.add_argument("--state-dir", type=Path, default=Path(".run/fleet"), help="where the outboxes live")
    p.add_argument("--rate", type=float, default=4.0, help="records per second, whole fleet")
    p.add_argument("--duration", type=float, default=3600.0, help="seconds to run")
    p.add_argument("--broker", help="HOST:PORT instead of the address in each bundle")
    args = p.parse_args(argv)
    broker = None
    if args.broker:
        host, _, port = args.broker.rpartition(":")
        if not host or not port.isdigit():
            p.error(f"--broker {args.broker!r}: want HOST:PORT")
        broker = (host, int(port))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        fleet = Fleet(args.bundle, args.state_dir, broker=broker)
    except LinkError as exc:
        print(f"fleet simulator: {exc}", file=sys.stderr)
        return 2
    fleet.start()
    try:
        n = fleet.run_rate(args.rate, args.duration)
        print(f"produced {n} records; waiting for acknowledgements")
        fleet.wait_drained(30)
    except KeyboardInterrupt:
        pass
    finally:
        fleet.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
