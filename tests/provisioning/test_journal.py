"""The technician journal: a hash chain on the laptop, tamper detection, append-only sync to the hub."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from pathlib import Path

import pytest

from provisioning.journal import GENESIS_HASH, JOURNAL_FILE, Journal, JournalTamperedError, read_entries


def _journal(tmp_path: Path, n: int = 3) -> Journal:
    journal = Journal(tmp_path / "site")
    for i in range(n):
        journal.append("enroll", f"kiosk-{i:03d}", technician="tech-li", details={"kind": "kiosk", "n": i})
    return journal


def _lines(journal: Journal) -> list[dict[str, object]]:
    return [json.loads(line) for line in journal.path.read_bytes().splitlines()]


def _write_lines(journal: Journal, lines: list[dict[str, object]]) -> None:
    journal.path.write_bytes(b"".join(json.dumps(d).encode() + b"\n" for d in lines))


def test_entries_chain_from_genesis(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    entries = journal.verify()
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev == GENESIS_HASH
    assert entries[1].prev == entries[0].hash and entries[2].prev == entries[1].hash
    # the hash is SHA-256 over the canonical line without the hash: recomputed here independently
    raw = _lines(journal)[1]
    claimed = raw.pop("hash")
    assert hashlib.sha256(json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()).hexdigest() == claimed
    assert journal.head() is not None and journal.head().hash == entries[-1].hash  # type: ignore[union-attr]
    assert entries[2].details == {"kind": "kiosk", "n": 2} and entries[2].technician == "tech-li"


def test_edited_entry_is_named(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    lines = _lines(journal)
    lines[1]["subject"] = "kiosk-999"
    _write_lines(journal, lines)
    with pytest.raises(JournalTamperedError, match="entry 2: its content does not match its hash") as info:
        journal.verify()
    assert info.value.seq == 2


def test_edit_with_recomputed_hash_breaks_the_next_link(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    first = journal.verify()[0]
    forged = dataclasses.replace(first, outcome="error: nothing")
    forged = dataclasses.replace(forged, hash=forged.compute_hash())
    raw = journal.path.read_bytes().splitlines()
    journal.path.write_bytes(forged.to_line() + b"\n".join(raw[1:]) + b"\n")
    with pytest.raises(JournalTamperedError, match="entry 2: it does not link"):
        journal.verify()


def test_removed_entry_is_detected(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    raw = journal.path.read_bytes().splitlines()
    journal.path.write_bytes(raw[0] + b"\n" + raw[2] + b"\n")
    with pytest.raises(JournalTamperedError, match="entry 2: entry says seq 3"):
        journal.verify()


def test_cut_off_tail_is_detected_by_the_head(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    raw = journal.path.read_bytes().splitlines()
    journal.path.write_bytes(b"\n".join(raw[:2]) + b"\n")
    with pytest.raises(JournalTamperedError, match="cut off"):
        journal.verify()


def test_cut_off_tail_and_head_rewritten_is_caught_by_the_hub_copy(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    hub = tmp_path / "hub-copy"
    assert journal.sync(hub) == 3
    raw = journal.path.read_bytes().splitlines()
    journal.path.write_bytes(b"\n".join(raw[:2]) + b"\n")
    second = json.loads(raw[1])
    journal.head_path.write_text(json.dumps({"seq": 2, "hash": second["hash"]}))
    assert len(journal.verify()) == 2  # locally consistent after a careful forgery...
    with pytest.raises(JournalTamperedError, match="the hub's copy has 3 entries"):
        journal.verify(against=hub)  # ...but not against what the hub already holds
    with pytest.raises(JournalTamperedError):
        journal.sync(hub)
    assert len(read_entries(hub / JOURNAL_FILE)) == 3  # the hub's copy untouched


def test_rewritten_history_is_refused_by_sync(tmp_path: Path) -> None:
    journal = _journal(tmp_path, 2)
    hub = tmp_path / "hub-copy"
    journal.sync(hub)
    # a whole new, self-consistent journal in place of the old one
    journal.path.unlink()
    journal.head_path.unlink()
    journal.append("enroll", "kiosk-777", technician="someone")
    journal.append("enroll", "kiosk-778", technician="someone")
    journal.append("enroll", "kiosk-779", technician="someone")
    with pytest.raises(JournalTamperedError, match="entry 1: it differs from the copy the hub already has"):
        journal.sync(hub)
    assert [e.subject for e in read_entries(hub / JOURNAL_FILE)] == ["kiosk-000", "kiosk-001"]


def test_sync_appends_only_what_the_hub_lacks(tmp_path: Path) -> None:
    journal = _journal(tmp_path, 2)
    hub = tmp_path / "hub-copy"
    assert journal.sync(hub) == 2
    assert journal.sync(hub) == 0
    journal.append("revoke", "kiosk-000", technician="tech-wang")
    assert journal.sync(hub) == 1
    assert [(e.action, e.technician) for e in read_entries(hub / JOURNAL_FILE)][-1] == ("revoke", "tech-wang")
    assert read_entries(hub / JOURNAL_FILE) == journal.verify()


def test_append_refuses_a_broken_journal(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    lines = _lines(journal)
    lines[0]["technician"] = "nobody"
    _write_lines(journal, lines)
    with pytest.raises(JournalTamperedError, match="entry 1"):
        journal.append("revoke", "kiosk-001", technician="tech-li")
    assert len(journal.path.read_bytes().splitlines()) == 3


def test_garbage_line_is_tampering_not_a_crash(tmp_path: Path) -> None:
    journal = _journal(tmp_path, 1)
    with journal.path.open("ab") as f:
        f.write(b"{not json\n")
    with pytest.raises(JournalTamperedError, match="line 2 is not a journal entry"):
        journal.verify()


def test_concurrent_appends_keep_one_chain(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "site")

    def work(n: int) -> None:
        for i in range(10):
            Journal(tmp_path / "site").append("enroll", f"kiosk-{n}{i}", technician=f"t{n}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [e.seq for e in journal.verify()] == list(range(1, 41))
