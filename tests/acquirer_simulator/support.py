"""The acquirer simulator as the tests run it: its own process on an ephemeral loopback port,
with synthetic accounts and the keys of a test key ceremony."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acquirer_simulator.server import READY_LINE
from kiosk.epp.crypto import Algorithm, encrypted_pin_block, pan_field, x919_mac
from tests.support.processes import terminate

PIN_KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # the terminal PIN key of the test ceremony
MAC_KEY = bytes.fromhex("11223344556677889900AABBCCDDEEFF")  # the hub <-> acquirer link MAC key
TAK = bytes.fromhex("0F1E2D3C4B5A69788796A5B4C3D2E1F0")  # the terminal MAC key of the test ceremony
TERMINAL = "KSK00001"
PIN = "246810"
START_S = 10.0


def luhn_complete(prefix: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(prefix + "0")):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return prefix + str((10 - total % 10) % 10)


CARDS = {  # synthetic PANs (Luhn-valid, no real issuer range owner intended)
    "approve": luhn_complete("621700000000001"),
    "poor": luhn_complete("621700000000002"),
    "timeout": luhn_complete("621700000000003"),
    "drop": luhn_complete("621700000000004"),
    "refuse": luhn_complete("621700000000005"),
    "lock": luhn_complete("621700000000006"),
}


def pin_block(pan: str, pin: str = PIN) -> bytes:
    return encrypted_pin_block(pin, pan_field(pan), 0, Algorithm.TDES, PIN_KEY)


def terminal_mac(processing_code: str, amount_fen: int, pan: str, expiry_yymm: str, pin_block_hex: str,
                 terminal: str = TERMINAL, key: bytes = TAK) -> str:
    """The terminal MAC as docs/hospital-services.md defines its block, with the kiosk's own X9.19."""
    mab = f"MCH1{processing_code}{amount_fen:012d}{pan}={expiry_yymm}{pin_block_hex.upper()}{terminal}"
    return x919_mac(key, mab.encode("ascii")).hex().upper()


def accounts_doc() -> dict[str, Any]:
    accounts = {CARDS["approve"]: {"pin": PIN, "balance_fen": 1_000_000},
                CARDS["poor"]: {"pin": PIN, "balance_fen": 100},
                CARDS["timeout"]: {"pin": PIN, "balance_fen": 1_000_000, "behaviour": "timeout"},
                CARDS["drop"]: {"pin": PIN, "balance_fen": 1_000_000, "behaviour": "drop"},
                CARDS["refuse"]: {"pin": PIN, "balance_fen": 1_000_000, "behaviour": "decline:05"},
                CARDS["lock"]: {"pin": PIN, "balance_fen": 1_000_000}}
    return {"mac_key": MAC_KEY.hex(), "max_pin_tries": 3,
            "terminals": {TERMINAL: {"pin_key": PIN_KEY.hex(), "algorithm": "tdes", "mac_key": TAK.hex()}},
            "accounts": accounts}


@dataclass
class Acquirer:
    host: str
    port: int
    journal_path: Path
    proc: subprocess.Popen[bytes]

    def journal(self) -> dict[str, Any]:
        return json.loads(self.journal_path.read_text()) if self.journal_path.exists() else {"journal": [],
                                                                                              "balances": {}}

    def balance(self, pan: str) -> int:
        return int(self.journal()["balances"][pan[:6] + "*" * (len(pan) - 10) + pan[-4:]])

    def events(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.journal()["journal"] if e["event"] == event]


@contextmanager
def run_acquirer(workdir: Path, late_s: float = 6.0, *, accounts_json: dict[str, Any] | None = None,
                 extra_args: tuple[str, ...] = (), env: dict[str, str] | None = None) -> Iterator[Acquirer]:
    workdir.mkdir(parents=True, exist_ok=True)
    accounts = workdir / "acquirer-accounts.json"
    accounts.write_text(json.dumps(accounts_json or accounts_doc()))
    journal = workdir / "acquirer-journal.json"
    log = open(workdir / "acquirer.log", "wb")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen([sys.executable, "-m", "acquirer_simulator", "--accounts", str(accounts), "--port", "0",
                             "--journal", str(journal), "--late-s", str(late_s), *extra_args], stdout=subprocess.PIPE,
                            stderr=log, env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"})
    log.close()
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + START_S
        line = b""
        while time.monotonic() < deadline and READY_LINE.encode() not in line:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                raise AssertionError(f"acquirer simulator exited: {(workdir / 'acquirer.log').read_text()}")
        address = line.decode().rsplit(" ", 1)[1].strip()
        host, port = address.rsplit(":", 1)
        yield Acquirer(host, int(port), journal, proc)
    finally:
        terminate(proc, 5.0)
