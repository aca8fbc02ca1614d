"""The durable outbox: ids never reused, counters never reused across restarts, full disk refused."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mch_link.errors import OutboxError
from mch_link.outbox import COUNTER_BLOCK, Outbox

BODY = {"seq": 1, "fhr_bpm": [140], "toco": [10]}


def test_add_pending_delete(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    ids = box.add_many("ctg", "sim/1", [(dict(BODY, seq=i), 1000 + i) for i in range(5)])
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [p.body["seq"] for p in box.pending()] == [0, 1, 2, 3, 4]
    assert [p.msg_id for p in box.pending(after_id=ids[2])] == ids[3:]
    assert box.delete(ids[:2]) == 2
    assert box.depth() == 3


def test_ids_are_never_reused_after_deleting_the_newest(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    first = box.add("rec", "sim/1", BODY)
    box.delete([first])
    box.close()
    again = Outbox(tmp_path / "o.db").add("rec", "sim/1", BODY)
    assert again > first


def test_counters_survive_restart_without_reuse(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    used = {box.next_counter() for _ in range(10)}
    box.close()  # like a power cut: the rest of the reserved block is skipped
    box2 = Outbox(tmp_path / "o.db")
    later = [box2.next_counter() for _ in range(COUNTER_BLOCK + 5)]
    assert not used & set(later)
    assert later == sorted(later) and len(set(later)) == len(later)


def test_counter_survives_sigkill(tmp_path: Path) -> None:
    """A process killed right after taking counters: the next process starts beyond its block."""
    db = tmp_path / "o.db"
    code = (
        "import os, signal, sys; from mch_link.outbox import Outbox;"
        f"b = Outbox({str(db)!r}); print(max(b.next_counter() for _ in range(7)), flush=True);"
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == -9
    highest_used = int(out.stdout)
    assert Outbox(db).next_counter() > highest_used


def test_committed_records_survive_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    code = (
        "import os, signal; from mch_link.outbox import Outbox;"
        f"b = Outbox({str(db)!r});"
        "[b.add('ctg', 'sim/1', {'seq': i, 'fhr_bpm': [], 'toco': []}) for i in range(50)];"
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    subprocess.run([sys.executable, "-c", code], timeout=30)
    box = Outbox(db)
    assert [p.body["seq"] for p in box.pending()] == list(range(50))
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_full_disk_is_a_clear_error_and_loses_nothing_committed(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    kept = box.add("rec", "sim/1", BODY)
    pages = box._db.execute("PRAGMA page_count").fetchone()[0]
    box._db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "database or disk is full"
    with pytest.raises(OutboxError, match="full"):
        box.add_many("rec", "sim/1", [({"seq": i, "fhr_bpm": [1] * 16, "toco": [1] * 16, "note": "x" * 200}, None)
                                      for i in range(500)])
    assert [p.msg_id for p in box.pending()] == [kept]


def test_unopenable_path_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(OutboxError, match="cannot open"):
        Outbox(tmp_path / "dir.db")


def test_ids_can_be_raised_above_a_floor_never_lowered(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    assert box.add("ctg", "sim/1", {"seq": 1}) == 1
    box.raise_ids_above(40)
    assert box.add("ctg", "sim/1", {"seq": 2}) == 41
    box.raise_ids_above(5)
    assert box.add("ctg", "sim/1", {"seq": 3}) == 42
    fresh = Outbox(tmp_path / "fresh.db")  # no row in sqlite_sequence yet
    fresh.raise_ids_above(7)
    assert fresh.add("ctg", "sim/1", {"seq": 1}) == 8
