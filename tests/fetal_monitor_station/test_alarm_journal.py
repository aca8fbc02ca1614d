"""Alarms raised while only `mch-station run` runs (no nurse screen) are in the nurse journal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fetal_monitor_station.alarm_journal import AlarmJournaller, journal_path
from fetal_monitor_station.archive import Archive, ArchiveReader
from fetal_monitor_station.config import BedConfig
from fetal_monitor_station.nurse_journal import NurseJournal
from fetal_monitor_station.publisher import Publisher
from fetal_monitor_station.simulator import Simulator
from fetal_monitor_station.sources.synthetic import Span, SyntheticSpec, generate
from fetal_monitor_station.station import Station
from fetal_monitor_station.trace import CtgSample
from fetal_monitor_station.ui.alarm_board import AlarmBoard
from tests.fetal_monitor_station.helpers import FakeLink, steady
from tests.fetal_monitor_station.test_station import PATIENT, T0, LowFhrPolicy

CLI = [sys.executable, "-m", "fetal_monitor_station.cli"]


def _clock() -> float:
    return T0 + 3600


def _journalled_station(tmp_path: Path) -> tuple[Station, NurseJournal]:
    """A station whose alarm changes go to a nurse journal, as `mch-station run` wires it."""
    st = Station([BedConfig("bed-01", str(tmp_path / "bed-01"))], Archive(tmp_path / "archive.sqlite3"),
                 Publisher(FakeLink()), alarm_policy=LowFhrPolicy(), clock=_clock)
    journal = NurseJournal(tmp_path / "nurse.sqlite3", _clock)
    st.listeners.append(AlarmJournaller(journal, _clock))
    return st, journal


def test_raise_acknowledge_and_clear_are_journalled_by_the_station_alone(tmp_path: Path) -> None:
    st, journal = _journalled_station(tmp_path)
    clock = _clock
    ep = st.admit("bed-01", PATIENT)
    for s in steady(8, fhr=140.0, t0_s=T0):
        st.process("bed-01", s)
    st.process("bed-01", CtgSample(T0 + 2, 90.0))  # raised
    st.acknowledge("bed-01", "bed-01-low", "N0042")  # as a screen would
    st.process("bed-01", CtgSample(T0 + 2.25, 140.0))  # cleared
    events = [(e.alarm_id, e.kind, e.event, e.priority, e.nurse_id, e.at_ms) for e in journal.alarm_events(ep.episode_id)]
    at = int((T0 + 3600) * 1000)
    assert events == [("bed-01-low", "low", "raised", 2, None, at), ("bed-01-low", "low", "acknowledged", 2, "N0042", at),
                      ("bed-01-low", "low", "cleared", 2, None, at)]
    # a screen started afterwards shows that history
    board = AlarmBoard(st, journal, clock)
    assert [(h.alarm_id, h.event, h.nurse_id) for h in board.history("bed-01")] == \
        [("bed-01-low", "raised", None), ("bed-01-low", "acknowledged", "N0042"), ("bed-01-low", "cleared", None)]
    st.archive.close()
    journal.close()


def test_a_screen_acknowledging_writes_the_acknowledgement_once(tmp_path: Path) -> None:
    """The engine's change comes back to the board after its own acknowledgement: one journal row, one entry."""
    from fetal_monitor_station.ui.controller import NurseStation

    st, journal = _journalled_station(tmp_path)
    nurse = NurseStation(st, journal, clock=_clock, font=Path("/nonexistent-font.ttf"))
    ep = st.admit("bed-01", PATIENT)
    st.process("bed-01", CtgSample(T0, 90.0))
    nurse.refresh()
    nurse.nurse_id = "N7"
    nurse.acknowledge("bed-01-low")
    nurse.refresh()
    assert [e.event for e in journal.alarm_events(ep.episode_id)] == ["raised", "acknowledged"]
    assert [h.event for h in nurse.board.history("bed-01")] == ["raised", "acknowledged"]
    nurse.close()
    st.archive.close()
    journal.close()


@pytest.mark.integration
def test_mch_station_run_without_a_screen_journals_a_bradycardia(tmp_path: Path) -> None:
    trace, _ = generate(SyntheticSpec(duration_s=1800, seed=4, bradycardia=(Span(200.0, 1800.0, 92.0),)))
    sim = Simulator(speed=30.0)
    sim.add("bed-01", list(trace.samples()), tmp_path / "bed-01")
    cfg = tmp_path / "station.toml"
    cfg.write_text('station_id = "station-01"\narchive = "archive.sqlite3"\nclock_speed = 30\n'
                   '[thresholds]\nbradycardia_s = 120\n'
                   f'[[beds]]\nid = "bed-01"\nurl = "{tmp_path / "bed-01"}"\n')
    sim.start()
    try:
        out = subprocess.run([*CLI, "run", "--config", str(cfg), "--no-view", "--duration", "40"],
                             capture_output=True, text=True, timeout=120)
    finally:
        sim.stop()
    assert out.returncode == 0, out.stderr
    reader = ArchiveReader(tmp_path / "archive.sqlite3")
    assert reader.sample_count() > 4 * 600, "the run saw at least 10 minutes of trace"
    reader.close()
    journal = NurseJournal(journal_path(tmp_path / "archive.sqlite3"))
    events = [(e.bed_id, e.kind, e.event) for e in journal.alarm_events(1)]
    assert ("bed-01", "bradycardia", "raised") in events, events
    board = AlarmBoard(_NoEngine(), journal, lambda: T0)  # what a later `mch-station ui` shows
    assert ("bradycardia", "raised") in [(h.kind, h.event) for h in board.history("bed-01")]
    journal.close()


class _NoEngine:
    def acknowledge(self, bed_id: str, alarm_id: str, nurse_id: str) -> None:
        raise AssertionError("not acknowledged in this test")
