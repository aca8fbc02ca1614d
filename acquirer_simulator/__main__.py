"""`python -m acquirer_simulator --accounts FILE [--pinpad-key FILE] [--host 127.0.0.1] [--port 0] [--journal FILE]`

--pinpad-key opens the key ceremony's sealed hub copy (passphrase in $MCH_PINPAD_KEY_PASSPHRASE)
for terminals whose PIN key the accounts file gives enciphered under that master key.

Prints `acquirer-simulator: listening on HOST:PORT` when ready; stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from acquirer_simulator.accounts import AccountsError, Book
from acquirer_simulator.host import AcquirerHost
from acquirer_simulator.pinpad_key import PASSPHRASE_ENV, MasterKey, PinpadKeyError, open_pinpad_key
from acquirer_simulator.server import LATE_S, READY_LINE, AcquirerServer


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m acquirer_simulator",
                                description="Acquirer host simulator: ISO 8583 over TCP, PIN and MAC verified.")
    p.add_argument("--accounts", type=Path, required=True, help="JSON: MAC key, terminal PIN keys, accounts")
    p.add_argument("--pinpad-key", type=Path, metavar="FILE",
                   help=f"the key ceremony's sealed master key (mch-pinpad-key/1); passphrase in ${PASSPHRASE_ENV}")
    p.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="TCP port (default: any free one, printed)")
    p.add_argument("--journal", type=Path, help="write what happened (masked cards, balances) to this JSON file")
    p.add_argument("--late-s", type=float, default=LATE_S, help="how late a 'timeout' account is answered")
    args = p.parse_args(argv)
    passphrase = os.environ.get(PASSPHRASE_ENV, "")
    if args.pinpad_key and not passphrase:
        p.error(f"--pinpad-key needs the hub key passphrase in ${PASSPHRASE_ENV}")
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        master: MasterKey | None = None
        if args.pinpad_key:
            master = open_pinpad_key(args.pinpad_key.read_bytes(), str(args.pinpad_key), passphrase.encode())
            logging.getLogger("acquirer").info("master key opened: slot %d, %s, KCV %s",
                                               master.slot, master.algorithm, master.kcv)
        book = Book.read(args.accounts, master)
        server = AcquirerServer((args.host, args.port), AcquirerHost(book), args.journal, args.late_s)
    except (AccountsError, PinpadKeyError, OSError) as exc:
        print(f"acquirer-simulator: error: {exc}", file=sys.stderr)
        return 1
    done = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    thread = threading.Thread(target=server.serve_forever, name="acquirer", daemon=True)
    thread.start()
    host, port = server.socket.getsockname()[:2]
    print(f"{READY_LINE} {host}:{port}", flush=True)
    done.wait()
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
