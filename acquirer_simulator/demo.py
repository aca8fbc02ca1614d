"""Write a matching pair of files for a demo or `make run`: the simulator's accounts file and the
hub's services.json, sharing a fresh random link MAC key (both mode 600).

    python -m acquirer_simulator.demo --accounts-out FILE --hub-state DIR --port 8583 \\
        --terminal-id KIOSK001 --pin-key <hex from the PIN pad's key ceremony> \\
        [--terminal-mac-key <hex: the pad's terminal MAC key, then field 63 is required>] \\
        --account 6299990000000012345:123456 [--account PAN:PIN[:BALANCE_FEN[:BEHAVIOUR]] ...]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from acquirer_simulator.accounts import BEHAVIOURS

DEFAULT_BALANCE_FEN = 1_000_000
SERVICES_FILE = "services.json"


def account(text: str) -> tuple[str, dict[str, Any]]:
    parts = text.split(":")
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: want PAN:PIN[:BALANCE_FEN[:BEHAVIOUR]]")
    behaviour = parts[3] if len(parts) > 3 else "approve"
    if behaviour not in BEHAVIOURS and not behaviour.startswith("decline:"):
        raise argparse.ArgumentTypeError(f"{behaviour!r}: want one of {BEHAVIOURS} or decline:<code>")
    balance = int(parts[2]) if len(parts) > 2 else DEFAULT_BALANCE_FEN
    return parts[0], {"pin": parts[1], "balance_fen": balance, "behaviour": behaviour}


def _write_private(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2)
    os.chmod(path, 0o600)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m acquirer_simulator.demo", description=__doc__.splitlines()[0])
    p.add_argument("--accounts-out", type=Path, required=True, help="the simulator's accounts file to write")
    p.add_argument("--hub-state", type=Path, required=True, help="the hub's state directory (services.json goes there)")
    p.add_argument("--host", default="127.0.0.1", help="where the hub reaches the simulator (default 127.0.0.1)")
    p.add_argument("--port", type=int, required=True, help="the simulator's port")
    p.add_argument("--terminal-id", required=True, help="the kiosk's 8-character terminal id")
    p.add_argument("--pin-key", required=True, help="the terminal PIN key in hex (the PIN pad's, from the ceremony)")
    p.add_argument("--terminal-mac-key", help="the terminal MAC key (TAK) in hex, 32 digits: payments and"
                   " verifications must then carry the PIN pad's terminal MAC")
    p.add_argument("--algorithm", choices=["tdes", "sm4"], default="tdes")
    p.add_argument("--account", type=account, action="append", required=True, help="PAN:PIN[:BALANCE_FEN[:BEHAVIOUR]]")
    a = p.parse_args(argv)
    try:
        pin_key = bytes.fromhex(a.pin_key)
    except ValueError:
        p.error("--pin-key: not hex")
    if len(a.terminal_id) != 8 or len(pin_key) not in (8, 16, 24):
        p.error("--terminal-id must be 8 characters and --pin-key 8, 16 or 24 bytes")
    terminal: dict[str, str] = {"pin_key": a.pin_key, "algorithm": a.algorithm}
    if a.terminal_mac_key is not None:
        try:
            if len(bytes.fromhex(a.terminal_mac_key)) != 16:
                raise ValueError
        except ValueError:
            p.error("--terminal-mac-key: want 32 hex digits")
        terminal["mac_key"] = a.terminal_mac_key
    mac_key = secrets.token_hex(16)
    try:
        _write_private(a.accounts_out, {"mac_key": mac_key, "accounts": dict(a.account),
                                        "terminals": {a.terminal_id: terminal}})
        _write_private(a.hub_state / SERVICES_FILE, {"acquirer": {"host": a.host, "port": a.port, "mac_key": mac_key}})
    except OSError as exc:
        print(f"acquirer-simulator demo: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {a.accounts_out} and {a.hub_state / SERVICES_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
