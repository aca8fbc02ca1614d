"""The technician's journal: every action on the laptop, hash-chained, synced to the hub later.
(The entry format and chain check are mch_link.journal_chain: the hub checks the same bytes.)

    <site>/journal/technician.jsonl   one JSON object a line (seq, at, technician, action,
                                      subject, outcome, details, prev, hash)
    <site>/journal/head.json          seq and hash of the last entry

Each entry's hash is SHA-256 over its canonical JSON (sorted keys, no spaces) without the hash,
which includes the previous entry's hash: changing, inserting or deleting an entry breaks the
chain at that entry and `verify` names it. Cutting entries off the end is caught by the head
file (written after each append) and, once synced, by the hub's copy: a journal that no longer
extends what the hub already holds is refused by `sync` and by `verify --against`.

Technicians work offline: `sync` appends the entries the hub's copy lacks to that copy (a
directory: the hub view, a share, a USB stick), after checking both chains and that the local
one extends the copy. The copy is append-only; sync never rewrites what the hub has.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mch_link.journal_chain import (
    GENESIS_HASH,
    JOURNAL_DIR,
    JOURNAL_FILE,
    JournalChainError,
    JournalEntry,
    canonical,
    check_chain,
)
from provisioning.errors import ProvisioningError
from provisioning.files import make_dir, write_public

HEAD_FILE = "head.json"
LOCK_FILE = ".lock"


class JournalError(ProvisioningError):
    """The journal cannot be read or written."""


class JournalTamperedError(JournalError):
    """The chain is broken: an entry was changed, inserted, removed or cut off."""

    def __init__(self, path: Path, seq: int, reason: str) -> None:
        super().__init__(f"journal {path} tampered at entry {seq}: {reason}")
        self.seq = seq
        self.reason = reason


def read_entries(path: Path) -> list[JournalEntry]:
    """Every entry of a journal file, checked link by link (JournalTamperedError on a break)."""
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise JournalError(f"cannot read journal {path}: {exc.strerror}") from None
    try:
        return check_chain(path, lines)
    except JournalChainError as exc:
        raise JournalTamperedError(path, exc.seq, exc.reason) from None


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str


class Journal:
    """The journal of one site directory (`Journal(site_dir)`); appends are serialised by a lock."""

    def __init__(self, site_dir: Path) -> None:
        self.dir = Path(site_dir) / JOURNAL_DIR
        self.path = self.dir / JOURNAL_FILE
        self.head_path = self.dir / HEAD_FILE

    @contextmanager
    def _locked(self) -> Iterator[None]:
        make_dir(self.dir, secret=True)
        fd = os.open(self.dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def head(self) -> Head | None:
        try:
            data = json.loads(self.head_path.read_bytes())
            return Head(int(data["seq"]), str(data["hash"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise JournalTamperedError(self.head_path, 0, f"head file unreadable ({exc})") from None

    def verify(self, against: Path | None = None) -> list[JournalEntry]:
        """The whole chain, its head file, and (with `against`, the hub's copy directory) that the
        journal still extends what was synced. Returns the entries."""
        entries = read_entries(self.path)
        head = self.head()
        last = Head(entries[-1].seq, entries[-1].hash) if entries else None
        if head != last:
            seq = head.seq if head else 0
            raise JournalTamperedError(self.path, seq, f"the head file says {head}, the journal ends at {last}: "
                                                       "entries were cut off or the head file was replaced")
        if against is not None:
            _check_extends(entries, read_entries(against / JOURNAL_FILE), self.path)
        return entries

    def append(self, action: str, subject: str, *, technician: str, outcome: str = "ok",
               details: Mapping[str, Any] | None = None, at: datetime | None = None) -> JournalEntry:
        """Add one entry after checking the last one links (a full `verify` is the technician's)."""
        with self._locked():
            entries = self.verify()
            prev = entries[-1] if entries else None
            entry = JournalEntry(seq=prev.seq + 1 if prev else 1,
                                 at=(at or datetime.now(UTC)).isoformat(timespec="seconds"),
                                 technician=technician, action=action, subject=subject, outcome=outcome,
                                 details=dict(details or {}), prev=prev.hash if prev else GENESIS_HASH)
            entry = JournalEntry(**{**asdict(entry), "hash": entry.compute_hash()})
            _append_line(self.path, entry.to_line())
            write_public(self.head_path, canonical({"seq": entry.seq, "hash": entry.hash}))
            return entry

    def sync(self, copy_dir: Path) -> int:
        """Append to the hub's copy in `copy_dir` the entries it lacks; returns how many."""
        with self._locked():
            entries = self.verify()
            copy_path = copy_dir / JOURNAL_FILE
            synced = read_entries(copy_path)
            _check_extends(entries, synced, self.path)
            new = entries[len(synced):]
            if new:
                make_dir(copy_dir, secret=True)
                _append_line(copy_path, b"".join(e.to_line() for e in new))
                read_entries(copy_path)
            return len(new)


def _check_extends(entries: list[JournalEntry], synced: list[JournalEntry], path: Path) -> None:
    if len(synced) > len(entries):
        raise JournalTamperedError(path, len(entries) + 1, f"the hub's copy has {len(synced)} entries, "
                                                           f"the journal only {len(entries)}: entries were cut off")
    for mine, theirs in zip(entries, synced, strict=False):
        if mine.hash != theirs.hash:
            raise JournalTamperedError(path, mine.seq, "it differs from the copy the hub already has")


def _append_line(path: Path, data: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise JournalError(f"cannot append to journal {path}: {exc.strerror}") from None
