"""The station archive and a device outbox hold patient names: 0600 files in a 0700 directory
whatever the umask (they were 0644 under the usual umask 022)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from fetal_monitor_station.archive.store import Archive
from mch_link.outbox import Outbox
from mch_link.privatefile import prepare_private_db


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o002)  # a umask that would leave files 0664 and directories 0775
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_private(db: Path) -> None:
    assert mode(db.parent) == 0o700
    files = [db] + [db.with_name(db.name + s) for s in ("-wal", "-shm") if db.with_name(db.name + s).exists()]
    assert len(files) == 3  # WAL mode: -wal and -shm exist while open
    for f in files:
        assert mode(f) == 0o600, f


def test_archive_and_outbox_are_private_whatever_the_umask(tmp_path: Path, loose_umask: None) -> None:
    archive = Archive(tmp_path / "station" / "archive.db")
    outbox = Outbox(tmp_path / "link" / "outbox.db")
    try:
        assert_private(tmp_path / "station" / "archive.db")
        assert_private(tmp_path / "link" / "outbox.db")
    finally:
        archive.close()
        outbox.close()


def test_an_existing_loose_file_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    db.write_bytes(b"")
    os.chmod(db, 0o644)
    (tmp_path / "old.db-wal").write_bytes(b"")
    os.chmod(tmp_path / "old.db-wal", 0o664)
    prepare_private_db(db)
    assert mode(db) == 0o600 and mode(tmp_path / "old.db-wal") == 0o600


def test_a_symlink_in_place_of_the_database_is_not_chmoded(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("x")
    os.chmod(victim, 0o644)
    (tmp_path / "db").symlink_to(victim)
    prepare_private_db(tmp_path / "db")
    assert mode(victim) == 0o644


def test_a_registry_entry_is_never_written_through_a_planted_temp_name(site) -> None:  # type: ignore[no-untyped-def]
    """write_entry used `.<device>.json.tmp` with O_TRUNC: a symlink planted there received the
    device's link keys (and was then renamed into the registry)."""
    from mch_link.registry import entry_path, load_entry, write_entry

    entry = site.enroll("kiosk-001", "kiosk").entry
    path = entry_path(site.path, "kiosk-001")
    victim = path.parent.parent / "victim"
    victim.write_text("precious\n")
    (path.parent / ".kiosk-001.json.tmp").symlink_to(victim)
    write_entry(site.path, entry)
    assert victim.read_text() == "precious\n"
    assert load_entry(site.path, "kiosk-001") == entry and mode(path) == 0o600
