"""What the simulator is given: the link MAC key, each terminal's PIN key (from the key ceremony),
and synthetic accounts with their PIN, balance and scripted behaviour.

    {"mac_key": "<32 hex>",
     "terminals": {"KSK00001": {"pin_key": "<hex>", "algorithm": "tdes" | "sm4"}},
     "accounts": {"<PAN>": {"pin": "123456", "balance_fen": 100000,
                            "behaviour": "approve" | "timeout" | "drop" | "decline:05"}}}

`timeout` charges and then answers too late; `drop` charges and closes the line unanswered:
both are what a reversal is for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

BEHAVIOURS = ("approve", "timeout", "drop")


class AccountsError(ValueError):
    pass


@dataclass
class Account:
    pin: str
    balance_fen: int
    behaviour: str = "approve"


@dataclass(frozen=True)
class Terminal:
    pin_key: bytes
    algorithm: str


@dataclass
class Book:
    mac_key: bytes
    terminals: dict[str, Terminal]
    accounts: dict[str, Account] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Book:
        try:
            doc = json.loads(Path(path).read_text("utf-8"))
            book = cls(bytes.fromhex(doc["mac_key"]),
                       {tid: Terminal(bytes.fromhex(t["pin_key"]), t.get("algorithm", "tdes"))
                        for tid, t in doc["terminals"].items()},
                       {pan: Account(str(a["pin"]), int(a["balance_fen"]), a.get("behaviour", "approve"))
                        for pan, a in doc["accounts"].items()})
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise AccountsError(f"{path}: {exc.__class__.__name__}: {exc}") from None
        for account in book.accounts.values():
            if account.behaviour not in BEHAVIOURS and not account.behaviour.startswith("decline:"):
                raise AccountsError(f"{path}: unknown behaviour {account.behaviour!r}")
        if len(book.mac_key) != 16:
            raise AccountsError(f"{path}: mac_key must be 32 hex digits")
        return book
