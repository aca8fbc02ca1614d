"""Admit, discharge and transfer patients; assign traces recorded before admission; nurse notes.

A thin service over the station (which owns episodes) and the nurse journal (which owns the
audit trail and notes): every action needs a nurse id and is audited. Input comes typed from
the screen (hospital number, name, gestational age as "38+2"); errors are `EpisodeError` with a
message the nurse can act on.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from fetal_monitor_station.county_records import DischargeForm, county_record
from fetal_monitor_station.episodes import Episode, EpisodeBook, Patient
from fetal_monitor_station.errors import EpisodeError
from fetal_monitor_station.nurse_journal import Note, NurseJournal, check_nurse_id

GA_RE = re.compile(r"^\s*(\d{2})\s*(?:\+\s*([0-6]))?\s*$")


class StationActions(Protocol):
    book: EpisodeBook

    def admit(self, bed_id: str, patient: Patient) -> Episode: ...

    def discharge(self, bed_id: str) -> Episode: ...

    def assign(self, episode_id: int, patient: Patient) -> Episode: ...

    def baseline_bpm(self, bed_id: str) -> float | None: ...

    def county_record(self, schema: str, body: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class Unassigned:
    episode: Episode
    age_s: float  # since the trace started
    open: bool


def parse_ga(text: str) -> tuple[int, int]:
    """'38+2' or '38' -> (38, 2) / (38, 0)."""
    m = GA_RE.match(text)
    if not m:
        raise EpisodeError(f"gestational age {text!r}: write weeks+days, e.g. 38+2")
    return int(m.group(1)), int(m.group(2) or 0)


def make_patient(patient_id: str, name: str, ga: str) -> Patient:
    weeks, days = parse_ga(ga)
    return Patient(patient_id.strip(), name.strip(), weeks, days)


class AdmissionService:
    def __init__(self, station: StationActions, journal: NurseJournal, clock: Callable[[], float],
                 station_id: str = "station") -> None:
        self._station = station
        self._journal = journal
        self._clock = clock
        self._station_id = station_id

    def admit(self, bed_id: str, patient_id: str, name: str, ga: str, nurse_id: str,
              id_card: str | None = None) -> Episode:
        """`id_card`: the masked ID number when name and identity came from her ID card (audited as such)."""
        check_nurse_id(nurse_id)
        patient = make_patient(patient_id, name, ga)
        self._open_elsewhere(patient.patient_id, bed_id)
        ep = self._station.admit(bed_id, patient)
        extra = {} if id_card is None else {"id_card": id_card}
        self._journal.audit(nurse_id, "admit", bed_id, episode_id=ep.episode_id, patient_id=patient.patient_id,
                            **extra)
        return ep

    def _open_elsewhere(self, patient_id: str, bed_id: str) -> None:
        for ep in self._station.book.open_episodes():
            if ep.patient_id == patient_id and ep.bed_id != bed_id:
                raise EpisodeError(f"patient {patient_id} is on {ep.bed_id}: use transfer")

    def discharge(self, bed_id: str, nurse_id: str, form: DischargeForm | None = None) -> Episode:
        """End the bed's episode; a delivered or antenatal outcome also sends the county its record.

        The form is checked first: a bad field refuses the discharge, nothing is lost."""
        check_nurse_id(nurse_id)
        form = form or DischargeForm()
        current = self._station.book.current(bed_id)
        if current is None:
            raise EpisodeError(f"bed {bed_id} has no open episode")
        now = self._clock()
        made = county_record(current, form, station_id=self._station_id, today=dt.date.fromtimestamp(now),
                             baseline_bpm=self._station.baseline_bpm(bed_id))
        ep = self._station.discharge(bed_id)
        if made is not None:
            self._station.county_record(*made)
        self._journal.audit(nurse_id, "discharge", bed_id, episode_id=ep.episode_id, patient_id=ep.patient_id,
                            outcome=form.outcome, **({"record": made[0]} if made else {}))
        return ep

    def transfer(self, from_bed: str, to_bed: str, nurse_id: str) -> Episode:
        """Move a patient: her episode on the old bed ends, a new one starts on the new bed."""
        if from_bed == to_bed:
            raise EpisodeError("transfer: choose a different bed")
        ep = self._station.book.current(from_bed)
        if ep is None or not ep.identified or ep.patient_id is None or ep.patient_name is None:
            raise EpisodeError(f"bed {from_bed} has no admitted patient to transfer")
        target = self._station.book.current(to_bed)
        if target is not None and target.identified:
            raise EpisodeError(f"bed {to_bed} is occupied by {target.patient_id}; discharge it first")
        patient = Patient(ep.patient_id, ep.patient_name, ep.ga_weeks or 0, ep.ga_days or 0)
        check_nurse_id(nurse_id)
        old = self._station.discharge(from_bed)
        new = self._station.admit(to_bed, patient)
        self._journal.audit(nurse_id, "transfer", from_bed, to_bed=to_bed, from_episode=old.episode_id,
                            to_episode=new.episode_id, patient_id=patient.patient_id)
        return new

    def unassigned(self) -> list[Unassigned]:
        """Traces recorded on a bed nobody was admitted to, oldest first."""
        now = self._clock()
        return [Unassigned(ep, now - ep.admitted_s, ep.discharged_ms is None)
                for ep in self._station.book.history() if not ep.identified]

    def assign(self, episode_id: int, patient_id: str, name: str, ga: str, nurse_id: str) -> Episode:
        patient = make_patient(patient_id, name, ga)
        check_nurse_id(nurse_id)
        ep = self._station.assign(episode_id, patient)
        self._journal.audit(nurse_id, "assign", ep.bed_id, episode_id=episode_id, patient_id=patient.patient_id)
        return ep

    def note(self, bed_id: str, text: str, nurse_id: str) -> Note:
        """A timestamped note / event mark on the bed's current trace."""
        ep = self._station.book.current(bed_id)
        if ep is None:
            raise EpisodeError(f"bed {bed_id} has no trace to mark")
        try:
            note = self._journal.add_note(ep.episode_id, bed_id, nurse_id, text, int(self._clock() * 1000))
        except ValueError as exc:
            raise EpisodeError(str(exc)) from None
        self._journal.audit(nurse_id, "note", bed_id, episode_id=ep.episode_id, note_id=note.note_id)
        return note
