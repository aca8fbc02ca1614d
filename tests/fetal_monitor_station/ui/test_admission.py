"""Admit / discharge / transfer / assign through the real Station and archive (readers not started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fetal_monitor_station.admission import AdmissionService, parse_ga
from fetal_monitor_station.archive.store import Archive
from fetal_monitor_station.config import BedConfig
from fetal_monitor_station.errors import EpisodeError
from fetal_monitor_station.nurse_journal import NurseJournal
from fetal_monitor_station.publisher import Publisher
from fetal_monitor_station.station import Station
from fetal_monitor_station.trace import CtgSample
from fetal_monitor_station.ui.feed import StationFeed

from ..helpers import FakeLink
from .fakes import T0, FakeClock


@pytest.fixture
def setup(tmp_path: Path):
    clock = FakeClock()
    link = FakeLink()
    beds = [BedConfig(f"bed-0{i}", str(tmp_path / f"bed-0{i}")) for i in (1, 2, 3)]
    station = Station(beds, Archive(tmp_path / "archive.sqlite3"), Publisher(link), clock=clock)
    journal = NurseJournal(tmp_path / "nurse.sqlite3", clock)
    return station, AdmissionService(station, journal, clock), journal, link, clock


def test_parse_ga() -> None:
    assert parse_ga("38+2") == (38, 2) and parse_ga(" 40 ") == (40, 0) and parse_ga("39 + 6") == (39, 6)
    for bad in ("38+7", "3", "abc", "38-2"):
        with pytest.raises(EpisodeError, match="gestational age"):
            parse_ga(bad)


def test_admit_discharge_audited_and_published(setup) -> None:
    station, svc, journal, link, _ = setup
    ep = svc.admit("bed-01", "H00017", "陈静", "38+2", "N0042")
    assert (ep.patient_id, ep.ga_weeks, ep.ga_days) == ("H00017", 38, 2)
    with pytest.raises(EpisodeError, match="occupied"):
        svc.admit("bed-01", "H00018", "刘芳", "39", "N0042")
    with pytest.raises(EpisodeError, match="transfer"):
        svc.admit("bed-02", "H00017", "陈静", "38+2", "N0042")
    out = svc.discharge("bed-01", "N0043")
    assert out.discharged_ms is not None
    assert [e["event"] for e in link.of("episode/1")] == ["admitted", "discharged"]
    assert [(e.action, e.nurse_id) for e in journal.audit_entries("bed-01")] == [
        ("admit", "N0042"), ("discharge", "N0043")]


def test_bad_input_changes_nothing(setup) -> None:
    station, svc, journal, _, _ = setup
    with pytest.raises(EpisodeError):
        svc.admit("bed-01", "bad id!", "陈静", "38+2", "N1")
    with pytest.raises(ValueError, match="nurse id"):
        svc.discharge("bed-01", "")
    assert station.book.current("bed-01") is None and journal.audit_entries() == []


def test_transfer_moves_the_patient_and_keeps_both_traces(setup) -> None:
    station, svc, journal, _, clock = setup
    svc.admit("bed-01", "H00017", "陈静", "38+2", "N1")
    station.process("bed-01", CtgSample(T0, 140.0))
    new = svc.transfer("bed-01", "bed-02", "N1")
    assert new.bed_id == "bed-02" and new.patient_id == "H00017"
    assert station.book.current("bed-01") is None
    old = [e for e in station.book.history("bed-01")]
    assert old[0].patient_id == "H00017" and old[0].discharged_ms is not None
    with pytest.raises(EpisodeError, match="no admitted patient"):
        svc.transfer("bed-03", "bed-01", "N1")
    assert journal.audit_entries("bed-01")[-1].detail["to_episode"] == new.episode_id


def test_traces_before_admission_are_kept_unassigned_then_assigned(setup) -> None:
    station, svc, _, link, clock = setup
    feed = StationFeed(lambda ep_id: station.book.get(ep_id).admitted_s, clock)
    station.listeners.append(feed.listener)
    for i in range(8):
        station.process("bed-03", CtgSample(T0 + i / 4, 150.0))
    station.discharge("bed-03")  # monitor stopped before anyone admitted the woman
    clock.now += 900
    (u,) = svc.unassigned()
    assert not u.open and u.age_s == pytest.approx(900.0)
    assert len(feed.samples("bed-03")) == 8  # the feed saw every archived sample
    ep = svc.assign(u.episode.episode_id, "H00020", "赵敏", "40+1", "N2")
    assert ep.patient_id == "H00020" and svc.unassigned() == []
    assert link.of("episode/1")[-1]["patient_id"] == "H00020"
    with pytest.raises(EpisodeError, match="already belongs"):
        svc.assign(u.episode.episode_id, "H00021", "赵敏", "40+1", "N2")


def test_notes_need_a_trace_and_land_on_the_episode(setup) -> None:
    station, svc, journal, _, _ = setup
    with pytest.raises(EpisodeError, match="no trace"):
        svc.note("bed-01", "体位改变", "N1")
    ep = svc.admit("bed-01", "H00017", "陈静", "38+2", "N1")
    svc.note("bed-01", "体位改变 position change", "N1")
    with pytest.raises(EpisodeError):
        svc.note("bed-01", "   ", "N1")
    (note,) = journal.notes(ep.episode_id)
    assert note.text == "体位改变 position change" and note.nurse_id == "N1"
