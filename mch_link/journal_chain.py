"""The technician journal's format and chain check, shared by the laptop and the hub.

`mch-provision` writes the journal (provisioning.journal) and syncs it into the hub's view;
the hub reads it into its audit log (central_hub.journal_import). Both must agree on every
byte that is hashed, and the hub must check the chain itself rather than trust the laptop,
so the format lives here, where the components meet.

    one JSON object a line: seq, at, technician, action, subject, outcome, details, prev, hash,
    format = "mch-journal/1"; hash = SHA-256 over the canonical JSON (sorted keys, no spaces)
    of the entry without its hash; prev = the hash of the entry before (64 zeros for the first).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mch_link.errors import LinkError

JOURNAL_DIR = "journal"
JOURNAL_FILE = "technician.jsonl"
GENESIS_HASH = "0" * 64
FORMAT = "mch-journal/1"
MAX_LINE = 64 * 1024  # an entry is a command line's worth; a longer line is not ours


class JournalChainError(LinkError):
    """The chain is broken: an entry was changed, inserted, removed, or is not an entry."""

    def __init__(self, path: Path, seq: int, reason: str) -> None:
        super().__init__(f"journal {path} tampered at entry {seq}: {reason}")
        self.path = path
        self.seq = seq
        self.reason = reason


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    at: str  # ISO 8601 UTC
    technician: str
    action: str  # the mch-provision command: enroll, revoke, ceremony, ...
    subject: str  # what it acted on: a device id, the site id
    outcome: str  # "ok" or "error: <message>"
    details: Mapping[str, Any] = field(default_factory=dict)
    prev: str = GENESIS_HASH
    hash: str = ""

    def body(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("hash")
        data["details"] = dict(self.details)
        data["format"] = FORMAT
        return data

    def compute_hash(self) -> str:
        return hashlib.sha256(canonical(self.body())).hexdigest()

    def to_line(self) -> bytes:
        return canonical({**self.body(), "hash": self.hash}) + b"\n"


def canonical(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


_TEXT_FIELDS = ("at", "technician", "action", "subject", "outcome", "prev", "hash")


def parse_line(path: Path, lineno: int, line: bytes) -> JournalEntry:
    try:
        if len(line) > MAX_LINE:
            raise ValueError(f"longer than {MAX_LINE} bytes")
        data = json.loads(line)
        if not isinstance(data, dict) or data.pop("format", None) != FORMAT:
            raise ValueError("unknown format")
        entry = JournalEntry(**data)
        if not isinstance(entry.seq, int) or isinstance(entry.seq, bool) or not isinstance(entry.details, dict) \
                or not all(isinstance(getattr(entry, f), str) for f in _TEXT_FIELDS):
            raise ValueError("bad field types")
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise JournalChainError(path, lineno, f"line {lineno} is not a journal entry ({exc})") from None
    return entry


def check_chain(path: Path, lines: list[bytes]) -> list[JournalEntry]:
    """Every entry, checked link by link from the first (JournalChainError at the first break)."""
    entries: list[JournalEntry] = []
    prev = GENESIS_HASH
    for lineno, line in enumerate(lines, start=1):
        entry = parse_line(path, lineno, line)
        if entry.seq != lineno:
            raise JournalChainError(path, lineno, f"entry says seq {entry.seq}: one was inserted or removed")
        if entry.prev != prev:
            raise JournalChainError(path, lineno, "it does not link to the entry before it")
        if entry.compute_hash() != entry.hash:
            raise JournalChainError(path, lineno, "its content does not match its hash (edited)")
        entries.append(entry)
        prev = entry.hash
    return entries
