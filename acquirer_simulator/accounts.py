"""What the simulator is given: the link MAC key, each terminal's PIN key (from the key ceremony),
and synthetic accounts with their PIN, balance and scripted behaviour.

    {"mac_key": "<32 hex>", "max_pin_tries": 3,
     "terminals": {"KSK00001": {"pin_key": "<hex>", "algorithm": "tdes" | "sm4",
                                "mac_key": "<32 hex, the terminal's MAC key (TAK); optional>"}},
     "accounts": {"<PAN>": {"pin": "123456", "balance_fen": 100000,
                            "behaviour": "approve" | "timeout" | "drop" | "decline:05"}}}

`timeout` charges and then answers too late; `drop` charges and closes the line unanswered:
both are what a reversal is for. A card is locked (answer 75) after `max_pin_tries` wrong PINs in a
row, as its issuer would; a right PIN before that resets the count. A terminal with a `mac_key`
must send the terminal MAC (field 63) made in its PIN pad.

Instead of `pin_key` in clear a terminal may give `"pin_key_under_master": "<hex>"`, its PIN key
enciphered under the ceremony's master key (as it is loaded into the pad); the simulator is then
started with that master key (`--pinpad-key`, the ceremony's sealed hub copy) and deciphers it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acquirer_simulator.pinpad_key import MasterKey, PinpadKeyError

BEHAVIOURS = ("approve", "timeout", "drop")
DEFAULT_PIN_TRIES = 3


class AccountsError(ValueError):
    pass


@dataclass
class Account:
    pin: str
    balance_fen: int
    behaviour: str = "approve"
    pin_failures: int = 0


@dataclass(frozen=True)
class Terminal:
    pin_key: bytes
    algorithm: str
    mac_key: bytes | None = None


@dataclass
class Book:
    mac_key: bytes
    terminals: dict[str, Terminal]
    accounts: dict[str, Account] = field(default_factory=dict)
    max_pin_tries: int = DEFAULT_PIN_TRIES

    @classmethod
    def read(cls, path: Path, master: MasterKey | None = None) -> Book:
        try:
            doc = json.loads(Path(path).read_text("utf-8"))
            book = cls(bytes.fromhex(doc["mac_key"]),
                       {tid: _terminal(tid, t, master) for tid, t in doc["terminals"].items()},
                       {pan: Account(str(a["pin"]), int(a["balance_fen"]), a.get("behaviour", "approve"))
                        for pan, a in doc["accounts"].items()}, int(doc.get("max_pin_tries", DEFAULT_PIN_TRIES)))
        except PinpadKeyError as exc:
            raise AccountsError(f"{path}: {exc}") from None
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise AccountsError(f"{path}: {exc.__class__.__name__}: {exc}") from None
        for account in book.accounts.values():
            if account.behaviour not in BEHAVIOURS and not account.behaviour.startswith("decline:"):
                raise AccountsError(f"{path}: unknown behaviour {account.behaviour!r}")
        if len(book.mac_key) != 16 or any(t.mac_key is not None and len(t.mac_key) != 16
                                          for t in book.terminals.values()):
            raise AccountsError(f"{path}: each mac_key must be 32 hex digits")
        if not 1 <= book.max_pin_tries <= 9:
            raise AccountsError(f"{path}: max_pin_tries must be 1..9")
        return book


def _terminal(terminal_id: str, t: dict[str, Any], master: MasterKey | None) -> Terminal:
    mac_key = bytes.fromhex(t["mac_key"]) if t.get("mac_key") else None
    if "pin_key_under_master" not in t:
        return Terminal(bytes.fromhex(t["pin_key"]), t.get("algorithm", "tdes"), mac_key)
    if master is None:
        raise PinpadKeyError(f"terminal {terminal_id}: pin_key_under_master needs --pinpad-key (the ceremony's hub copy)")
    if t.get("algorithm", master.algorithm) != master.algorithm:
        raise PinpadKeyError(f"terminal {terminal_id}: algorithm {t['algorithm']} but the master key is {master.algorithm}")
    return Terminal(master.unwrap(bytes.fromhex(t["pin_key_under_master"])), master.algorithm, mac_key)
