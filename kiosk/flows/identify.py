"""Identify the patient: ID card on the reader (check digit, birth date, validity) or a medical
card / outpatient number typed on the screen; then look her up in the hospital's patient index."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from kiosk.errors import CardDataError, KioskDeviceError
from kiosk.flows.devices import IdCardSource
from kiosk.flows.messages import Notice, hub_refused
from kiosk.flows.queue import KIND_REGISTRATION, RecordQueue, queue_registration, registration_body
from kiosk.flows.session import Session
from kiosk.hospital.api import HospitalError, HospitalServices, HospitalUnavailable, NewPatient, Patient
from kiosk.idcard.driver import CardRead
from kiosk.idcard.identity import Identity, mask_id_number
from kiosk.receipt.layout import mask_name

NUMBER_KINDS = {"medical_card": (8, 20), "outpatient": (6, 16)}  # digits min, max
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identified:
    status: str            # "found", "new" (offer registration), "queued" (hub down), "refused"
    notice: Notice
    patient: Patient | None = None


def new_patient(identity: Identity) -> NewPatient:
    return NewPatient(id_number=identity.id_number, name=identity.name, sex=str(int(identity.sex)),
                      birth_date=identity.birth_date, nation=identity.nation_code, address=identity.address)


def read_id_card(reader: IdCardSource) -> CardRead | Notice | None:
    """One read: the card, a `Notice` saying why it cannot be used, or None (no card)."""
    try:
        return reader.read_card()
    except CardDataError as exc:  # check digit, birth date or sex digit wrong: not a card we can trust
        log.warning("identify: ID card refused: %s", exc.message)
        return Notice("id_invalid")
    except KioskDeviceError as exc:
        log.warning("identify: ID card read failed: %s", exc.message)
        return Notice("id_read_failed")


def identify_by_card(services: HospitalServices, session: Session, read: CardRead, today: dt.date,
                     queue: RecordQueue | None = None) -> Identified:
    identity = read.identity
    if today < identity.valid_from:
        return Identified("refused", Notice("id_not_yet_valid"))
    if identity.valid_to is not None and today > identity.valid_to:
        return Identified("refused", Notice("id_expired", {"valid_to": identity.valid_to.isoformat()}))
    session.wipe()
    session.identity = identity
    try:
        patient = services.find_patient(id_number=identity.id_number)
    except HospitalUnavailable:
        return _queue_identification(session, identity, queue)
    except HospitalError as exc:
        return Identified("refused", hub_refused(exc.code))
    if patient is None:
        return Identified("new", Notice("not_found_register"))
    session.patient = patient
    return Identified("found", Notice("found", {"name": mask_name(patient.name)}), patient)


def _queue_identification(session: Session, identity: Identity, queue: RecordQueue | None) -> Identified:
    if queue is None:
        return Identified("refused", Notice("hub_down"))
    key = session.idempotency_key("register_patient")
    if not queue_registration(queue, registration_body(new_patient(identity), None, key)):
        return Identified("refused", Notice("hub_down"))
    session.queued.append(KIND_REGISTRATION)
    log.info("identify: hub unreachable, identification of %s queued", mask_id_number(identity.id_number))
    return Identified("queued", Notice("hub_down_queued"))


def valid_number(kind: str, number: str) -> bool:
    low, high = NUMBER_KINDS[kind]
    return number.isascii() and number.isdigit() and low <= len(number) <= high


def identify_by_number(services: HospitalServices, session: Session, kind: str, number: str) -> Identified:
    """Medical card (就诊卡) or outpatient number: only patients already known can be found."""
    if kind not in NUMBER_KINDS:
        raise ValueError(f"unknown number kind {kind!r}")
    if not valid_number(kind, number):
        low, high = NUMBER_KINDS[kind]
        return Identified("refused", Notice("number_invalid", {"min": str(low), "max": str(high)}))
    session.wipe()
    try:
        patient = (services.find_patient(medical_card_no=number) if kind == "medical_card"
                   else services.find_patient(outpatient_no=number))
    except HospitalUnavailable:
        return Identified("refused", Notice("hub_down"))
    except HospitalError as exc:
        return Identified("refused", hub_refused(exc.code))
    if patient is None:
        return Identified("refused", Notice("number_not_found"))
    session.patient = patient
    return Identified("found", Notice("found", {"name": mask_name(patient.name)}), patient)
