from __future__ import annotations

from pathlib import Path

import pytest

from fetal_monitor_station.archive import Archive, ArchiveReader
from fetal_monitor_station.episodes import EpisodeBook
from fetal_monitor_station.errors import ArchiveError
from tests.fetal_monitor_station.helpers import steady

T0 = 1_800_000_000.0


def test_samples_are_durable_after_flush_and_served_by_range(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    archive = Archive(path)
    ep, _ = EpisodeBook(archive).ensure("bed-01", int(T0 * 1000))
    samples = steady(4 * 150, t0_s=T0 + 7)  # 2.5 minutes, not minute-aligned
    for s in samples:
        archive.append(ep.episode_id, s)
    reader = ArchiveReader(path)
    assert reader.sample_count() == 0  # nothing committed before flush
    assert archive.flush() == 3  # minutes 0, 1 and 2
    assert reader.sample_count(ep.episode_id) == len(samples)
    got = reader.history(ep.episode_id, T0 + 30, T0 + 90)
    assert [s.t_s for s in got] == [T0 + 30 + i / 4 for i in range(240)]
    assert got[0] == samples[(30 - 7) * 4]
    assert reader.bed_history("bed-01", T0, T0 + 1000)[ep.episode_id] == reader.history(ep.episode_id, T0, T0 + 1000)
    assert reader.bed_history("bed-02", T0, T0 + 1000) == {}
    assert reader.integrity_check() == "ok"
    reader.close()
    archive.close()


def test_reopened_archive_merges_into_a_partial_minute(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    archive = Archive(path)
    ep, _ = EpisodeBook(archive).ensure("bed-01", int(T0 * 1000))
    first = steady(40, t0_s=T0)
    for s in first:
        archive.append(ep.episode_id, s)
    archive.close()
    again = Archive(path)
    book = EpisodeBook(again)
    assert book.current("bed-01") == ep  # the open episode survives a restart
    for s in steady(40, t0_s=T0 + 20):
        again.append(ep.episode_id, s)
    again.flush()
    reader = ArchiveReader(path)
    assert reader.sample_count(ep.episode_id) == 80
    assert len(reader.history(ep.episode_id, T0, T0 + 60)) == 80
    again.close()


def test_old_minutes_leave_memory(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "a.sqlite3")
    ep, _ = EpisodeBook(archive).ensure("bed-01", int(T0 * 1000))
    for s in steady(4 * 60 * 30, t0_s=T0):
        archive.append(ep.episode_id, s)
        if s.t_s % 10 == 0:
            archive.flush()
    archive.flush()
    assert archive.buffered_minutes() == 1
    archive.close()


def test_bad_paths_and_modes_raise_archive_error(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError):
        ArchiveReader(tmp_path / "missing.sqlite3")
    with pytest.raises(ArchiveError):
        Archive(tmp_path / "x.sqlite3", synchronous="OFF")
    (tmp_path / "dir.sqlite3").mkdir()
    with pytest.raises(ArchiveError):
        Archive(tmp_path / "dir.sqlite3")
