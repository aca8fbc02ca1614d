"""`mch-hub web`: build the dashboard from the CLI's arguments and serve it with uvicorn."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Iterator
from types import FrameType

import uvicorn

from central_hub.command_link import CommandLink
from central_hub.config import default_db_url
from central_hub.directory import Directory
from central_hub.errors import HubConfigError
from central_hub.store import open_store
from central_hub.web.app import create_app
from central_hub.web.services import Dashboard, WebConfig
from mch_link.registry import hub_identity, load_site_info

READY_MESSAGE = "mch-hub web: serving"
SHUTDOWN_S = 3
log = logging.getLogger("mch-hub web")


class _Server(uvicorn.Server):
    """Stops on SIGTERM/SIGINT and exits 0, like `mch-hub run` (uvicorn re-raises the signal after its
    graceful shutdown, which would make a clean stop look like a crash to a supervisor)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        def stop(signum: int, frame: FrameType | None) -> None:
            self.should_exit = True

        previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def _broker(args: argparse.Namespace) -> tuple[str, int]:
    if args.broker:
        host, _, port = str(args.broker).rpartition(":")
        if not host or not port.isdigit():
            raise HubConfigError(f"--broker {args.broker!r}: want HOST:PORT")
        return host, int(port)
    info = load_site_info(args.site)
    return info.broker_host, info.broker_port


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if (args.tls_cert is None) != (args.tls_key is None):
        raise HubConfigError("give both --tls-cert and --tls-key, or neither")
    state = args.state_dir or args.site / "hub" / "state"
    db_url = args.db or default_db_url(args.site, state)
    sender = None
    if args.hub_id:
        command_store = open_store(db_url)  # its own connection: counters are reserved from the send path
        sender = CommandLink(hub_identity(args.site, args.hub_id), _broker(args), Directory.from_site(args.site),
                             command_store)
        sender.start()
    dash = Dashboard(WebConfig(args.site, db_url, args.hub_id, state_dir=state), sender)
    config = uvicorn.Config(create_app(dash), host=args.host, port=args.port, log_level=args.log_level.lower(),
                            ssl_certfile=str(args.tls_cert) if args.tls_cert else None,
                            ssl_keyfile=str(args.tls_key) if args.tls_key else None,
                            timeout_graceful_shutdown=SHUTDOWN_S, access_log=False)
    server = _Server(config)
    try:
        sock = socket.create_server((args.host, args.port))
    except OSError as exc:
        raise HubConfigError(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    host, port = sock.getsockname()[:2]
    print(f"{READY_MESSAGE} {'https' if args.tls_cert else 'http'}://{host}:{port}/", file=sys.stderr, flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        if sender is not None:
            sender.stop()
    return 0
