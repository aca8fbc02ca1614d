"""`python -m county_simulator --data DIR [--host 127.0.0.1] [--port 0]`: run the county FHIR simulator.

Prints ``county-simulator: listening on http://HOST:PORT/fhir`` once it accepts connections
(port 0 picks a free one). SIGTERM or Ctrl-C stops it. Exit 1 on a start failure, 2 on usage.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from county_simulator.app import make_app
from county_simulator.faults import Faults
from county_simulator.store import CountyStore

READY = "county-simulator: listening on"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m county_simulator", description="County FHIR R4 platform simulator")
    p.add_argument("--data", type=Path, required=True, help="directory for what the county keeps (county.db)")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="TCP port (default 0: any free port)")
    args = p.parse_args(argv)
    try:
        if not ipaddress.ip_address(args.host).is_loopback:
            p.error(f"--host {args.host}: the simulator listens on loopback only")
    except ValueError:
        p.error(f"--host {args.host}: want an IP address")
    try:
        # IPPROTO_TCP named, so asyncio sets TCP_NODELAY on accepted connections (else ~40 ms per answer)
        sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM,
                             socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((args.host, args.port))
        sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
        store = CountyStore(args.data / "county.db")
    except OSError as exc:
        print(f"county-simulator: error: cannot start: {exc}", file=sys.stderr)
        return 1
    port = sock.getsockname()[1]
    config = uvicorn.Config(make_app(store, Faults()), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    print(f"{READY} http://{args.host}:{port}/fhir", flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
