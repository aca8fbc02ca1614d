"""The tamper-evident audit log: every action of an operator, auditor or admin, hash-chained.

Each row's hash is SHA-256 over the previous row's hash and the row's own canonical content
(seq, time, actor, action, target, detail). Changing, inserting or deleting a row anywhere but
at the very end breaks the chain at that row, and `verify` names it. Cutting rows off the end
cannot be seen from inside the database: `mch-hub audit verify` prints the head (seq and hash)
so that it can be written down elsewhere and compared later (`--expect-head`).

`seq` is the primary key and each append takes the highest seq + 1 in the same transaction,
so two writers can never fork the chain: the second one's insert conflicts and is retried.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from central_hub.errors import StoreError
from central_hub.store.base import Store

GENESIS_HASH = "0" * 64
APPEND_ATTEMPTS = 5
MAX_TEXT = 400


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at_ms: int
    actor: str
    action: str  # e.g. login, login-failed, command, quarantine-purge, user-create
    target: str  # what it acted on: a device id, a quarantine id, a user name
    detail: str  # canonical JSON
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Verification:
    ok: bool
    rows: int
    head_seq: int
    head_hash: str
    bad_seq: int | None = None
    problem: str = ""


def entry_hash(prev_hash: str, seq: int, at_ms: int, actor: str, action: str, target: str, detail: str) -> str:
    canonical = json.dumps([seq, at_ms, actor, action, target, detail], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical.encode()).hexdigest()


def canonical_detail(detail: Mapping[str, Any]) -> str:
    return json.dumps(dict(detail), sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


_COLUMNS = "seq, at_ms, actor, action, target, detail, prev_hash, hash"


class AuditLog:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def append_in_transaction(self, actor: str, action: str, target: str,
                              detail: Mapping[str, Any] | None = None) -> AuditEntry:
        """Append inside the caller's `store.write()` block, so the action and its audit row commit together."""
        s = self.store
        head = s.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (int(head[0]) + 1, str(head[1])) if head else (1, GENESIS_HASH)
        at_ms = int(self.clock() * 1000)
        text = canonical_detail(detail or {})
        entry = AuditEntry(seq, at_ms, actor[:MAX_TEXT], action[:MAX_TEXT], target[:MAX_TEXT], text, prev, "")
        digest = entry_hash(prev, seq, at_ms, entry.actor, entry.action, entry.target, text)
        s.execute(f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  (seq, at_ms, entry.actor, entry.action, entry.target, text, prev, digest))
        return AuditEntry(seq, at_ms, entry.actor, entry.action, entry.target, text, prev, digest)

    def append(self, actor: str, action: str, target: str, detail: Mapping[str, Any] | None = None) -> AuditEntry:
        """Append in a transaction of its own (retried when another writer took the same seq)."""
        for attempt in range(APPEND_ATTEMPTS):
            try:
                with self.store.write():
                    return self.append_in_transaction(actor, action, target, detail)
            except StoreError:
                if attempt == APPEND_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise StoreError("audit log: could not append")  # unreachable: the loop returns or raises

    def entries(self, limit: int = 100, before_seq: int | None = None, actor: str | None = None,
                action: str | None = None) -> list[AuditEntry]:
        where, params = [], []
        for clause, value in (("seq < ?", before_seq), ("actor = ?", actor), ("action = ?", action)):
            if value is not None:
                where.append(clause)
                params.append(value)
        text = (f"SELECT {_COLUMNS} FROM audit_log" + (" WHERE " + " AND ".join(where) if where else "")
                + " ORDER BY seq DESC LIMIT ?")
        return [_entry(r) for r in self.store.read(text, (*params, limit))]

    def verify(self, expect_head: str | None = None, page: int = 5000) -> Verification:
        """Walk the whole chain from the first row; the first broken link is reported."""
        prev, expected_seq, rows, after = GENESIS_HASH, 1, 0, 0
        while True:
            chunk = [_entry(r) for r in self.store.read(
                f"SELECT {_COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?", (after, page))]
            for e in chunk:
                problem = ""
                if e.seq != expected_seq:
                    problem = f"row {expected_seq} is missing (next row is {e.seq})"
                elif e.prev_hash != prev:
                    problem = "its previous-hash does not match the row before it"
                elif entry_hash(e.prev_hash, e.seq, e.at_ms, e.actor, e.action, e.target, e.detail) != e.hash:
                    problem = "its content does not match its hash (the row was changed)"
                if problem:
                    return Verification(False, rows, expected_seq - 1, prev, e.seq, problem)
                prev, expected_seq, rows = e.hash, e.seq + 1, rows + 1
            if len(chunk) < page:
                break
            after = chunk[-1].seq
        if expect_head is not None and expect_head != prev:
            return Verification(False, rows, expected_seq - 1, prev, None,
                                f"the head is {prev[:16]}..., expected {expect_head[:16]}... (rows cut off the end?)")
        return Verification(True, rows, expected_seq - 1, prev)


def _entry(r: Any) -> AuditEntry:
    return AuditEntry(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5], r[6], r[7])
