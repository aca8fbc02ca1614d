from __future__ import annotations

from pathlib import Path

import pytest

from fetal_monitor_station.errors import EpisodeError
from fetal_monitor_station.nurse_journal import NurseJournal
from fetal_monitor_station.ui.alarm_board import (
    COLOUR_HIGH,
    COLOUR_MEDIUM,
    COLOUR_TECHNICAL,
    SILENCE_S,
    AlarmBoard,
)

from .fakes import T0, FakeClock, change


class Engine:
    def __init__(self) -> None:
        self.acks: list[tuple[str, str, str]] = []

    def acknowledge(self, bed_id: str, alarm_id: str, nurse_id: str) -> None:
        self.acks.append((bed_id, alarm_id, nurse_id))


@pytest.fixture
def board(tmp_path: Path) -> tuple[AlarmBoard, Engine, NurseJournal, FakeClock]:
    clock = FakeClock()
    journal = NurseJournal(tmp_path / "nurse.sqlite3", clock)
    engine = Engine()
    return AlarmBoard(engine, journal, clock), engine, journal, clock


def test_fhr_alarm_latches_after_the_engine_clears_it_until_acknowledged(board) -> None:
    b, engine, journal, clock = board
    b.apply([change("bed-01", "a-1", "bradycardia", "raised")])
    assert b.audio_priority() == 2 and b.bed_priority("bed-01") == 2
    b.apply([change("bed-01", "a-1", "bradycardia", "cleared", at_s=T0 + 60)])
    latched = b.get("a-1")
    assert latched is not None and latched.latched  # still on the banner
    assert b.audio_priority() == 2  # and still sounding
    released = b.acknowledge("a-1", "N0042")
    assert released.acked_by == "N0042"
    assert engine.acks == []  # the engine had already cleared it: released locally
    assert b.get("a-1") is None and b.audio_priority() == 0
    events = [h.event for h in b.history("bed-01")]
    assert events == ["raised", "cleared", "latched", "released"]
    (entry,) = journal.audit_entries("bed-01")
    assert (entry.nurse_id, entry.action, entry.detail["alarm_id"], entry.detail["latched"]) == \
        ("N0042", "alarm_acknowledge", "a-1", True)


def test_active_alarm_is_acknowledged_in_the_engine_and_stops_sounding(board) -> None:
    b, engine, journal, _ = board
    b.apply([change("bed-02", "a-2", "prolonged_deceleration", "raised", "high")])
    assert b.get("a-2").colour == COLOUR_HIGH  # type: ignore[union-attr]
    b.acknowledge("a-2", " N7 ")
    assert engine.acks == [("bed-02", "a-2", "N7")]
    assert b.audio_priority() == 0 and b.bed_priority("bed-02") == 0
    assert b.get("a-2").acked_by == "N7"  # type: ignore[union-attr]
    b.apply([change("bed-02", "a-2", "prolonged_deceleration", "acknowledged", "high", nurse_id="N7"),
             change("bed-02", "a-2", "prolonged_deceleration", "cleared", "high")])
    assert b.get("a-2") is None  # acknowledged and resolved: gone
    assert journal.verify() is None


def test_acknowledge_needs_a_nurse_id_and_a_known_alarm(board) -> None:
    b, engine, _, _ = board
    b.apply([change("bed-01", "a-1", "tachycardia", "raised")])
    with pytest.raises(ValueError, match="nurse id"):
        b.acknowledge("a-1", "  ")
    with pytest.raises(EpisodeError, match="no alarm"):
        b.acknowledge("nope", "N1")
    assert engine.acks == [] and b.get("a-1").acked_by is None  # type: ignore[union-attr]


def test_technical_alarms_are_cyan_apart_quiet_and_self_clearing(board) -> None:
    b, _, _, _ = board
    b.apply([change("bed-03", "t-1", "monitor_disconnected", "raised", "medium"),
             change("bed-01", "c-1", "bradycardia", "raised", "medium")])
    assert [a.alarm_id for a in b.technical()] == ["t-1"]
    assert [a.alarm_id for a in b.clinical()] == ["c-1"]
    assert b.get("t-1").colour == COLOUR_TECHNICAL and b.get("c-1").colour == COLOUR_MEDIUM  # type: ignore
    b.acknowledge("c-1", "N1")
    assert b.audio_priority() == 0  # the technical alarm alone does not sound at the central station
    b.apply([change("bed-03", "t-1", "monitor_disconnected", "cleared")])
    assert b.technical() == []


def test_escalation_is_shown_and_resounds_through_a_silence(board) -> None:
    b, _, journal, clock = board
    b.apply([change("bed-01", "a-1", "bradycardia", "raised", "medium")])
    until = b.silence("N9")
    assert until == T0 + SILENCE_S and b.audio_priority() == 0
    clock.now += 30
    b.apply([change("bed-01", "a-1", "bradycardia", "escalated", "high", at_s=clock.now)])
    alarm = b.get("a-1")
    assert alarm is not None and alarm.priority == 3 and alarm.escalated_at_s == clock.now
    assert alarm.colour == COLOUR_HIGH
    assert b.audio_priority() == 3  # escalated after the silence: sounds again
    assert [e.action for e in journal.audit_entries()] == ["alarm_silence"]


def test_silence_ends_and_a_new_alarm_sounds_at_once(board) -> None:
    b, _, _, clock = board
    b.apply([change("bed-01", "a-1", "bradycardia", "raised", "medium")])
    b.silence("N9")
    b.apply([change("bed-02", "a-2", "tachycardia", "raised", "medium")])
    assert b.audio_priority() == 2  # a-2 was not silenced
    b.acknowledge("a-2", "N9")
    assert b.audio_priority() == 0
    clock.now += SILENCE_S + 1
    assert b.audio_priority() == 2 and b.silenced_for_s() == 0


def test_banner_order_unacknowledged_first_then_priority(board) -> None:
    b, _, _, clock = board
    b.apply([change("bed-01", "m", "bradycardia", "raised", "medium", at_s=T0),
             change("bed-02", "h", "pathological_classification", "raised", "high", at_s=T0 + 1),
             change("bed-03", "m2", "tachycardia", "raised", "medium", at_s=T0 + 2)])
    b.acknowledge("h", "N1")
    assert [a.alarm_id for a in b.clinical()] == ["m", "m2", "h"]
    assert [a.alarm_id for a in b.for_bed("bed-02")] == ["h"]


def test_audit_chain_detects_tampering(board) -> None:
    b, _, journal, _ = board
    b.apply([change("bed-01", "a-1", "bradycardia", "raised")])
    b.acknowledge("a-1", "N1")
    b.silence("N2")
    assert journal.verify() is None
    journal.db.execute("UPDATE audit SET nurse_id = 'N3' WHERE seq = 1")
    assert journal.verify() == 1


def test_the_board_journals_what_only_it_decides(board) -> None:
    """Raised and cleared come from the engine and are journalled by the station (test_alarm_journal);
    latching and the release of a latched alarm are the board's own, journalled here."""
    b, _, journal, _ = board
    b.apply([change("bed-01", "a-1", "bradycardia", "raised"),
             change("bed-01", "a-1", "bradycardia", "cleared", at_s=T0 + 30)])
    b.acknowledge("a-1", "N5")
    events = [(e.alarm_id, e.event, e.nurse_id, e.at_ms) for e in journal.alarm_events(1)]
    assert events == [("a-1", "latched", None, int((T0 + 30) * 1000)), ("a-1", "released", "N5", int(T0 * 1000))]
