"""The technicians' journal into the hub's audit log (`mch-hub journal import`).

`mch-provision journal sync` appends the laptop's journal to the copy in the hub's view
(``<view>/journal/technician.jsonl``). This reads that copy, checks the whole chain itself
(mch_link.journal_chain: the hub does not trust the laptop's word), checks that it still
extends what was imported before (the last imported entry's seq and hash are kept in the audit
row), and appends each new entry to the audit log as ``technician.<action>`` by
``technician:<name>``. Import and the audit rows commit together, so a crash imports all or
nothing and a rerun never imports twice. A tampered copy is refused with the entry and the
fix named, nothing imported, and the refusal itself is audited.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from central_hub.audit import AuditLog
from central_hub.errors import HubError
from central_hub.store.base import Store
from mch_link.journal_chain import (
    GENESIS_HASH,
    JOURNAL_DIR,
    JOURNAL_FILE,
    JournalChainError,
    JournalEntry,
    check_chain,
)

log = logging.getLogger(__name__)

ACTION_PREFIX = "technician."
ACTOR_PREFIX = "technician:"
REFUSED_ACTION = "technician-journal-refused"
HUB_ACTOR = "hub"


class JournalImportError(HubError):
    """The journal copy does not read or does not verify; nothing was imported."""


@dataclass(frozen=True)
class ImportResult:
    imported: int
    journal_entries: int


def journal_path(site_dir: Path) -> Path:
    return Path(site_dir) / JOURNAL_DIR / JOURNAL_FILE


def _last_imported(store: Store) -> tuple[int, str]:
    """(seq, hash) of the last journal entry imported, read in the caller's write transaction."""
    row = store.execute("SELECT detail FROM audit_log WHERE action LIKE ? AND actor LIKE ? ORDER BY seq DESC LIMIT 1",
                        (ACTION_PREFIX + "%", ACTOR_PREFIX + "%")).fetchone()
    if row is None:
        return 0, GENESIS_HASH
    detail = json.loads(row[0])
    return int(detail["journal_seq"]), str(detail["journal_hash"])


def _check_extends(path: Path, entries: list[JournalEntry], seq: int, digest: str) -> None:
    if seq > len(entries):
        raise JournalChainError(path, len(entries) + 1, f"the hub imported {seq} entries, the copy holds only "
                                                        f"{len(entries)}: entries were cut off")
    if seq and entries[seq - 1].hash != digest:
        raise JournalChainError(path, seq, "it differs from the entry the hub imported earlier")


def import_journal(store: Store, site_dir: Path, clock: Callable[[], float] = time.time) -> ImportResult:
    path = journal_path(site_dir)
    audit = AuditLog(store, clock)
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return ImportResult(0, 0)
    except OSError as exc:
        raise JournalImportError(f"cannot read {path}: {exc.strerror}") from None
    try:
        entries = check_chain(path, lines)
        with store.write():
            seq, digest = _last_imported(store)
            _check_extends(path, entries, seq, digest)
            new = entries[seq:]
            for e in new:
                audit.append_in_transaction(ACTOR_PREFIX + e.technician, ACTION_PREFIX + e.action, e.subject, {
                    "journal_seq": e.seq, "journal_hash": e.hash, "at": e.at, "outcome": e.outcome,
                    "details": dict(e.details)})
    except JournalChainError as exc:
        audit.append(HUB_ACTOR, REFUSED_ACTION, path.name, {"seq": exc.seq, "reason": exc.reason})
        log.error("technician journal refused: %s", exc)
        raise JournalImportError(f"{exc}; nothing imported. The technician's laptop holds the original: run "
                                 "`mch-provision journal verify` there, then `journal sync` again") from None
    if new:
        log.info("imported %d technician journal entr%s (up to %d)", len(new), "y" if len(new) == 1 else "ies",
                 entries[-1].seq)
    return ImportResult(len(new), len(entries))


class JournalWatch:
    """The running hub's import: at most every `interval_s`, import the synced copy when its size or
    mtime changed since the last look (a technician's `journal sync` lands while the hub runs).
    A refused copy is audited once by `import_journal` and not retried until it changes again."""

    def __init__(self, site_dir: Path, interval_s: float = 30.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.path = journal_path(site_dir)
        self.site_dir = Path(site_dir)
        self.interval_s = interval_s
        self._monotonic = monotonic
        self._looked_at = float("-inf")
        self._seen: tuple[int, int] | None = None

    def poll(self, store: Store) -> ImportResult | None:
        """The import's result when it ran, None when it was not due or the copy had not changed."""
        now = self._monotonic()
        if now - self._looked_at < self.interval_s:
            return None
        self._looked_at = now
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        stamp = (st.st_size, st.st_mtime_ns)
        if stamp == self._seen:
            return None
        try:
            result = import_journal(store, self.site_dir)
        except JournalImportError as exc:
            self._seen = stamp  # audited and logged once; a fresh sync changes the stamp
            log.error("%s", exc)
            return None
        except Exception as exc:  # noqa: BLE001 - the store down or anything else: never in ingest's way
            log.warning("technician journal not imported yet (tried again at the next look): %s", exc)
            return None
        self._seen = stamp
        return result
