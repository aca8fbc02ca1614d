"""Admission and the nurse id from ID cards on the simulated SAM_V reader (a pty), through the controller."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fetal_monitor_station.archive.store import Archive
from fetal_monitor_station.config import BedConfig
from fetal_monitor_station.errors import StationError
from fetal_monitor_station.idcard.reader import open_reader
from fetal_monitor_station.nurse_journal import NurseJournal
from fetal_monitor_station.publisher import Publisher
from fetal_monitor_station.station import Station
from fetal_monitor_station.ui.controller import NurseStation
from kiosk.idcard.identity import parse_text_block
from kiosk.idcard.simulator import IdCardHandle, start_on_pty, valid_card

from ..helpers import FakeLink
from .fakes import FakeClock

pytestmark = pytest.mark.integration


@pytest.fixture
def reader() -> Iterator[IdCardHandle]:
    handle = start_on_pty([])
    yield handle
    handle.stop()


def test_admit_from_her_card_and_acknowledge_with_the_nurses_card(tmp_path: Path, reader: IdCardHandle) -> None:
    clock = FakeClock()
    link = FakeLink()
    station = Station([BedConfig("bed-01", str(tmp_path / "bed-01"))], Archive(tmp_path / "archive.sqlite3"),
                      Publisher(link), clock=clock)
    journal = NurseJournal(tmp_path / "nurse.sqlite3", clock)
    nurse = NurseStation(station, journal, clock=clock, font=Path("/nonexistent.ttf"),
                         card_reader=open_reader(reader.port_url))
    with pytest.raises(StationError, match="no card"):
        nurse.read_card()
    nurse_card, patient_card = valid_card(31), valid_card(32)
    reader.sim.place(nurse_card)
    staff = nurse.nurse_from_card()
    who = parse_text_block(nurse_card.text)
    assert staff == f"{who.name}-{who.id_number[-4:]}" and nurse.nurse_id == staff
    reader.sim.place(patient_card)
    holder = nurse.read_card()
    her = parse_text_block(patient_card.text)
    assert (holder.name, holder.birth) == (her.name, her.birth_date)
    ep = nurse.admission.admit("bed-01", "H40001", holder.name, "39+1", nurse.nurse_id, id_card=holder.masked_id)
    assert ep.patient_name == her.name
    (entry,) = journal.audit_entries("bed-01")
    assert (entry.nurse_id, entry.action, entry.detail["id_card"]) == (staff, "admit", holder.masked_id)
    text = (tmp_path / "nurse.sqlite3").read_bytes() + (tmp_path / "archive.sqlite3").read_bytes()
    assert her.id_number.encode() not in text and her.id_number.encode("utf-16-le") not in text
    nurse.close()
    station.archive.close()
    journal.close()


def test_without_a_reader_the_screen_says_to_type(tmp_path: Path) -> None:
    clock = FakeClock()
    station = Station([BedConfig("bed-01", str(tmp_path / "bed-01"))], Archive(tmp_path / "archive.sqlite3"),
                      Publisher(FakeLink()), clock=clock)
    nurse = NurseStation(station, NurseJournal(tmp_path / "nurse.sqlite3", clock), clock=clock,
                         font=Path("/nonexistent.ttf"), card_error="ID-card reader /dev/ttyUSB9: cannot open")
    with pytest.raises(StationError, match="cannot open"):
        nurse.read_card()
    station.archive.close()


def test_a_configured_reader_that_cannot_be_opened_leaves_typing(tmp_path: Path) -> None:
    from fetal_monitor_station.config import parse_config
    from fetal_monitor_station.ui.run import open_card_reader

    config = parse_config({"station_id": "station-01", "archive": "a.sqlite3", "beds": [{"id": "bed-01", "url": "x"}],
                           "idcard": {"url": str(tmp_path / "no-such-reader")}}, tmp_path, "station.toml")
    reader, error = open_card_reader(config)
    assert reader is None and "cannot open" in error and "no-such-reader" in error
