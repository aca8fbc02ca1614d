"""The hash-chained audit log: appends chain, verify finds a changed, inserted or deleted row."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from central_hub.audit import GENESIS_HASH, AuditLog, entry_hash
from central_hub.store import Store, open_store


@pytest.fixture
def log(store: Store) -> AuditLog:
    audit = AuditLog(store, clock=lambda: 1_790_000_000.0)
    for i in range(5):
        audit.append("alice", "command", f"kiosk-00{i}", {"command": "reboot", "n": i})
    return audit


def test_rows_chain_from_genesis(log: AuditLog) -> None:
    first, *_ = sorted(log.entries(), key=lambda e: e.seq)
    assert first.seq == 1 and first.prev_hash == GENESIS_HASH
    assert first.hash == entry_hash(GENESIS_HASH, 1, 1_790_000_000_000, "alice", "command", "kiosk-000",
                                    '{"command":"reboot","n":0}')
    result = log.verify()
    assert (result.ok, result.rows, result.head_seq) == (True, 5, 5)
    assert result.head_hash == log.entries(limit=1)[0].hash


def test_a_changed_row_is_found(log: AuditLog, store: Store) -> None:
    with store.write():
        store.execute("UPDATE audit_log SET target = 'kiosk-999' WHERE seq = 3")
    result = log.verify()
    assert (result.ok, result.bad_seq, result.rows) == (False, 3, 2)
    assert "changed" in result.problem


def test_a_rewritten_row_with_a_fresh_hash_breaks_the_next_link(log: AuditLog, store: Store) -> None:
    row = [e for e in log.entries() if e.seq == 2][0]
    forged = entry_hash(row.prev_hash, 2, row.at_ms, "mallory", row.action, row.target, row.detail)
    with store.write():
        store.execute("UPDATE audit_log SET actor = 'mallory', hash = ? WHERE seq = 2", (forged,))
    result = log.verify()
    assert (result.ok, result.bad_seq) == (False, 3)


def test_a_deleted_row_is_found(log: AuditLog, store: Store) -> None:
    with store.write():
        store.execute("DELETE FROM audit_log WHERE seq = 4")
    result = log.verify()
    assert (result.ok, result.bad_seq) == (False, 5)
    assert "missing" in result.problem


def test_rows_cut_off_the_end_are_found_against_a_written_down_head(log: AuditLog, store: Store) -> None:
    head = log.verify().head_hash
    with store.write():
        store.execute("DELETE FROM audit_log WHERE seq = 5")
    assert log.verify().ok  # the chain alone cannot tell
    assert not log.verify(expect_head=head).ok


def test_filters(log: AuditLog) -> None:
    log.append("bob", "login", "bob")
    assert [e.actor for e in log.entries(actor="bob")] == ["bob"]
    assert len(log.entries(action="command")) == 5
    assert [e.seq for e in log.entries(limit=2, before_seq=4)] == [3, 2]


def test_two_logs_on_one_database_keep_one_chain(hub_db_url: str) -> None:
    a, b = open_store(hub_db_url), open_store(hub_db_url)
    try:
        la, lb = AuditLog(a), AuditLog(b)
        for i in range(10):
            (la if i % 2 else lb).append("x", "login", str(i))
        assert la.verify().ok and lb.verify().rows == 10
    finally:
        a.close()
        b.close()


def test_cli_verify(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    store = open_store(url)
    AuditLog(store).append("alice", "login", "alice")
    cli = [sys.executable, "-m", "central_hub.cli", "audit", "verify", "--db", url]
    ok = subprocess.run(cli, capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    assert "audit log intact: 1 rows" in ok.stdout
    with store.write():
        store.execute("UPDATE audit_log SET actor = 'eve'")
    store.close()
    bad = subprocess.run(cli, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 1
    assert "row 1" in bad.stdout and "changed" in bad.stdout
