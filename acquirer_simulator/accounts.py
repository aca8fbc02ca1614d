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
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

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
    def read(cls, path: Path) -> Book:
        try:
            doc = json.loads(Path(path).read_text("utf-8"))
            book = cls(bytes.fromhex(doc["mac_key"]),
                       {tid: Terminal(bytes.fromhex(t["pin_key"]), t.get("algorithm", "tdes"),
                                      bytes.fromhex(t["mac_key"]) if t.get("mac_key") else None)
                        for tid, t in doc["terminals"].items()},
                       {pan: Account(str(a["pin"]), int(a["balance_fen"]), a.get("behaviour", "approve"))
                        for pan, a in doc["accounts"].items()}, int(doc.get("max_pin_tries", DEFAULT_PIN_TRIES)))
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
