from __future__ import annotations

from pathlib import Path

import pytest

from fetal_monitor_station.archive import Archive
from fetal_monitor_station.episodes import EpisodeBook, Patient
from fetal_monitor_station.errors import EpisodeError

ALICE = Patient("P0001", "Test Patient A", 38, 2)  # synthetic
BETTY = Patient("P0002", "Test Patient B", 36)


@pytest.fixture
def book(tmp_path: Path):  # type: ignore[no-untyped-def]
    archive = Archive(tmp_path / "a.sqlite3")
    now = [1_800_000_000_000]
    yield EpisodeBook(archive, clock_ms=lambda: now[0])
    archive.close()


def test_admit_discharge_and_history(book: EpisodeBook) -> None:
    ep = book.admit("bed-01", ALICE)
    assert (ep.patient_id, ep.ga_weeks, ep.ga_days, ep.identified) == ("P0001", 38, 2, True)
    assert book.current("bed-01") == ep
    with pytest.raises(EpisodeError, match="occupied"):
        book.admit("bed-01", BETTY)
    done = book.discharge("bed-01")
    assert done.discharged_ms is not None and book.current("bed-01") is None
    with pytest.raises(EpisodeError, match="no open episode"):
        book.discharge("bed-01")
    ep2 = book.admit("bed-01", BETTY)
    assert ep2.episode_id != ep.episode_id
    assert [e.patient_id for e in book.history("bed-01")] == ["P0001", "P0002"]
    assert book.get(ep.episode_id) == done


def test_unidentified_episode_is_identified_by_admission(book: EpisodeBook) -> None:
    anon, created = book.ensure("bed-02")
    assert created and not anon.identified
    assert book.ensure("bed-02") == (anon, False)
    ep = book.admit("bed-02", ALICE)
    assert ep.episode_id == anon.episode_id and ep.identified and ep.admitted_ms == anon.admitted_ms
    assert ep.record("admitted", 5)["patient_name"] == ALICE.name


@pytest.mark.parametrize("args", [("", "n", 38), ("P 1", "n", 38), ("P1", "", 38), ("P1", "x" * 65, 38),
                                  ("P1", "n", 19), ("P1", "n", 45)])
def test_patient_validation(args: tuple[str, str, int]) -> None:
    with pytest.raises(EpisodeError):
        Patient(*args)
    with pytest.raises(EpisodeError):
        Patient("P1", "n", 38, 7)


def test_bad_bed_id(book: EpisodeBook) -> None:
    with pytest.raises(EpisodeError):
        book.ensure("bed 1; drop")
    with pytest.raises(EpisodeError):
        book.get(999)
