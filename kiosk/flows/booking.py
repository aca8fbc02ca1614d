"""Booking (预约) the antenatal visit the national schedule recommends, from the hub's free slots.
Hub down: refused clearly; a slot is only ever held by the hub, never assumed."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kiosk.flows.messages import Notice, hub_refused
from kiosk.flows.session import Session
from kiosk.hospital.api import Booking, HospitalError, HospitalServices, HospitalUnavailable, Slot

SLOT_DAYS = 14
WHEN_FORMAT = "%m-%d %H:%M"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlotChoice:
    visit_code: str | None
    slots: tuple[Slot, ...]
    notice: Notice | None = None


@dataclass(frozen=True)
class Held:
    booking: Booking | None
    notice: Notice


def offer_slots(services: HospitalServices, session: Session) -> SlotChoice:
    if session.patient is None:
        raise ValueError("no patient")
    try:
        visit = services.recommended_visit(session.patient.patient_id)
        if visit is None:
            return SlotChoice(None, (), Notice("no_visit_due"))
        slots = tuple(s for s in services.free_slots(visit, days=SLOT_DAYS) if s.free > 0)
    except HospitalUnavailable:
        return SlotChoice(None, (), Notice("booking_offline"))
    except HospitalError as exc:
        return SlotChoice(None, (), hub_refused(exc.code))
    return SlotChoice(visit, slots, None if slots else Notice("no_slots"))


def hold(services: HospitalServices, session: Session, slot: Slot) -> Held:
    if session.patient is None:
        raise ValueError("no patient")
    if session.booking is not None and session.booking.status == "held" and session.booking.slot.slot_id != slot.slot_id:
        release(services, session)
    # A tap the hub answered is done: the next tap on that slot is a new request (the hub would answer
    # the old key with the old booking, released since). A tap it never answered is asked again under
    # its key, so a hold that did reach the hub is found, not refused as 'already booked'.
    action = f"hold:{slot.slot_id}"
    try:
        booking = services.hold_slot(session.patient.patient_id, slot.slot_id,
                                     idempotency_key=session.idempotency_key(action))
    except HospitalUnavailable:
        return Held(None, Notice("booking_offline"))
    except HospitalError as exc:
        session.forget(action)
        return Held(None, hub_refused(exc.code))
    session.forget(action)
    session.booking = booking
    return Held(booking, Notice("booked", {"clinic": slot.clinic, "when": slot.starts_at.strftime(WHEN_FORMAT),
                                           "hold_until": booking.hold_until.strftime("%H:%M")}))


def release(services: HospitalServices, session: Session) -> None:
    """Give back an unpaid hold (best effort: the hub releases it on its own timeout anyway)."""
    booking = session.booking
    if booking is None or booking.status != "held":
        return
    try:
        services.release_booking(booking.booking_id,
                                 idempotency_key=session.idempotency_key(f"release:{booking.booking_id}"))
    except HospitalError as exc:  # HospitalUnavailable included: the hold expires at the hub anyway
        log.info("booking: release not confirmed (%s); the hub's hold timeout frees the slot", exc.code)
    session.booking = None
