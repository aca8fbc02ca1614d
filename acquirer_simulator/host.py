"""The acquirer's decisions (no I/O): authorise 0200s, apply 0400 reversals, keep a journal.

The journal names cards by masked PAN only. A reversal restores a charge once; a second
0200 with the same terminal and trace number is answered 94 (duplicate), never charged again.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from acquirer_simulator import wire
from acquirer_simulator.accounts import Book
from acquirer_simulator.pin import pin_matches

ANSWER, LATE, DROP = "answer", "late", "drop"


@dataclass
class _Charge:
    pan: str
    amount_fen: int
    reversed: bool = False


def mask(pan: str) -> str:
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]


class AcquirerHost:
    def __init__(self, book: Book, today: Any = dt.date.today) -> None:
        self.book, self.today = book, today
        self._lock = threading.Lock()
        self._charges: dict[tuple[str, str], _Charge] = {}  # (terminal, stan)
        self.journal: list[dict[str, Any]] = []

    def handle(self, doc: dict[str, str]) -> tuple[dict[str, str], str]:
        """(answer, how to deliver it: ANSWER, LATE or DROP)."""
        with self._lock:
            if doc.get("t") == wire.REVERSAL_REQUEST:
                return self._reverse(doc), ANSWER
            if doc.get("t") != wire.FINANCIAL_REQUEST:
                return self._answer(doc, wire.FINANCIAL_ANSWER, "96"), ANSWER
            return self._authorise(doc)

    def _answer(self, doc: dict[str, str], mti: str, code: str, auth: str | None = None) -> dict[str, str]:
        out = {k: v for k, v in doc.items() if k in ("2", "3", "4", "7", "11", "12", "13", "41", "42", "49")}
        out.update({"t": mti, "39": code})
        if auth:
            out["38"] = auth
        return out

    def _log(self, event: str, doc: dict[str, str], code: str) -> None:
        self.journal.append({"event": event, "terminal": doc.get("41"), "stan": doc.get("11"),
                             "card": mask(doc.get("2", "0000000000")), "amount_fen": int(doc.get("4", "0")),
                             "code": code})

    def _authorise(self, doc: dict[str, str]) -> tuple[dict[str, str], str]:
        key = (doc.get("41", ""), doc.get("11", ""))
        if key in self._charges:
            self._log("duplicate", doc, "94")
            return self._answer(doc, wire.FINANCIAL_ANSWER, "94"), ANSWER
        code, how = self._decide(doc)
        auth = None
        if code == wire.APPROVED:
            account = self.book.accounts[doc["2"]]
            account.balance_fen -= int(doc["4"])
            self._charges[key] = _Charge(doc["2"], int(doc["4"]))
            auth = f"{secrets.randbelow(10**6):06d}"
        self._log("charge" if auth else "decline", doc, code)
        return self._answer(doc, wire.FINANCIAL_ANSWER, code, auth), how

    def _decide(self, doc: dict[str, str]) -> tuple[str, str]:
        account = self.book.accounts.get(doc.get("2", ""))
        terminal = self.book.terminals.get(doc.get("41", ""))
        if account is None:
            return "14", ANSWER
        if terminal is None:
            return "96", ANSWER
        expiry = doc.get("14", "0000")
        if f"{self.today():%y%m}" > expiry:
            return "54", ANSWER
        block = bytes.fromhex(doc.get("52", ""))
        if not pin_matches(terminal.algorithm, terminal.pin_key, block, doc["2"], account.pin):
            return "55", ANSWER
        if account.behaviour.startswith("decline:"):
            return account.behaviour.split(":", 1)[1], ANSWER
        if account.balance_fen < int(doc["4"]):
            return "51", ANSWER
        how = {"timeout": LATE, "drop": DROP}.get(account.behaviour, ANSWER)
        return wire.APPROVED, how

    def _reverse(self, doc: dict[str, str]) -> dict[str, str]:
        charge = self._charges.get((doc.get("41", ""), doc.get("11", "")))
        if charge is not None and not charge.reversed:
            charge.reversed = True
            self.book.accounts[charge.pan].balance_fen += charge.amount_fen
        self._log("reversal", doc, "00")
        return self._answer(doc, wire.REVERSAL_ANSWER, "00")

    def balance(self, pan: str) -> int:
        with self._lock:
            return self.book.accounts[pan].balance_fen
