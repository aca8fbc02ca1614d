"""The acquirer's decisions (no I/O): authorise 0200s, verify cardholders (0100 with processing
code 33, amount 0: nothing is charged), apply 0400 reversals, keep a journal.

The journal names cards by masked PAN only. A reversal restores a charge once; a second
0200 with the same terminal and trace number is answered 94 (duplicate), never charged again.
Wrong PINs count per card across 0100 and 0200 (as the issuer counts them); at the book's
`max_pin_tries` the card is locked and every later request is answered 75, right PIN or not.
"""

from __future__ import annotations

import datetime as dt
import hmac
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
            if doc.get("t") == wire.VERIFY_REQUEST:
                return self._verify(doc)
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

    def _verify(self, doc: dict[str, str]) -> tuple[dict[str, str], str]:
        if doc.get("3") != wire.ACCOUNT_VERIFICATION or int(doc.get("4", "0") or "0") != 0:
            code = "12"  # invalid transaction: a verification never carries an amount
        else:
            code = self._check_card(doc) or wire.APPROVED
        self._log("verify", doc, code)
        return self._answer(doc, wire.VERIFY_ANSWER, code), ANSWER

    def _check_card(self, doc: dict[str, str]) -> str | None:
        """The checks a 0100 and a 0200 share: the decline code, or None when card and PIN are good."""
        account = self.book.accounts.get(doc.get("2", ""))
        terminal = self.book.terminals.get(doc.get("41", ""))
        if account is None:
            return "14"
        if terminal is None:
            return "96"
        if terminal.mac_key is not None:
            want = wire.retail_mac(terminal.mac_key, wire.terminal_mab(doc)).hex().upper()
            if not hmac.compare_digest(doc.get(wire.TERMINAL_MAC_FIELD, "").upper(), want):
                return "A0"
        if account.pin_failures >= self.book.max_pin_tries:
            return "75"
        expiry = doc.get("14", "0000")
        if f"{self.today():%y%m}" > expiry:
            return "54"
        try:
            block = bytes.fromhex(doc.get("52", ""))
        except ValueError:
            block = b""
        if not pin_matches(terminal.algorithm, terminal.pin_key, block, doc["2"], account.pin):
            account.pin_failures += 1
            return "75" if account.pin_failures >= self.book.max_pin_tries else "55"
        account.pin_failures = 0
        return None

    def _decide(self, doc: dict[str, str]) -> tuple[str, str]:
        problem = self._check_card(doc)
        if problem is not None:
            return problem, ANSWER
        account = self.book.accounts[doc["2"]]
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
