"""Booking (预约) against the fake hospital: a slot is held only by the hub, and a hub that cannot be
reached is refused clearly (`booking_offline`) with nothing held."""

from __future__ import annotations

import random

from kiosk.flows import booking as book
from kiosk.flows.session import Session
from kiosk.hospital.api import Booking, HospitalUnavailable
from kiosk.idcard.synthetic import synthetic_identity
from tests.kiosk.fake_hospital import FakeHospital
from tests.kiosk.flows.conftest import TODAY


def known(hospital: FakeHospital) -> Session:
    session = Session()
    session.identity = synthetic_identity(random.Random(5))
    session.patient = hospital.add_patient(session.identity.id_number, session.identity.name,
                                           session.identity.birth_date)
    return session


def test_offer_and_hold_with_the_hub_up_hold_one_slot(hospital: FakeHospital) -> None:
    session = known(hospital)
    choice = book.offer_slots(hospital, session)
    assert choice.notice is None and choice.visit_code is not None and choice.slots
    held = book.hold(hospital, session, choice.slots[0])
    assert held.booking is not None and held.notice.code == "booked"
    assert [b.status for b in hospital.bookings.values()] == ["held"]


def test_offer_slots_with_the_hub_unreachable_is_refused_clearly(hospital: FakeHospital) -> None:
    session = known(hospital)
    hospital.unreachable = True
    choice = book.offer_slots(hospital, session)
    assert choice.notice is not None and choice.notice.code == "booking_offline"
    assert choice.slots == () and choice.visit_code is None
    assert "无法连接" in choice.notice.text("zh") and "cannot be reached" in choice.notice.text("en")
    assert hospital.bookings == {} and session.booking is None


def test_hold_with_the_hub_gone_after_the_offer_holds_nothing(hospital: FakeHospital) -> None:
    session = known(hospital)
    choice = book.offer_slots(hospital, session)
    hospital.unreachable = True  # the link drops between the slot list and her tap
    held = book.hold(hospital, session, choice.slots[0])
    assert held.booking is None and held.notice.code == "booking_offline"
    assert session.booking is None and hospital.bookings == {} and hospital.charged_fen == 0
    assert hospital.calls[-1] == "hold_slot"  # it was asked, and the refusal came from its silence


def test_holding_a_slot_again_after_another_holds_a_new_booking(hospital: FakeHospital) -> None:
    """Hold A, hold B (A released), hold A: the hub answers a reused key with the first, released A."""
    session = known(hospital)
    a, b = book.offer_slots(hospital, session).slots[:2]
    first = book.hold(hospital, session, a).booking
    assert first is not None and book.hold(hospital, session, b).booking is not None
    assert hospital.bookings[first.booking_id].status == "released"
    again = book.hold(hospital, session, a)
    assert again.notice.code == "booked" and again.booking is not None and session.booking == again.booking
    assert again.booking.booking_id != first.booking_id
    assert hospital.bookings[again.booking.booking_id].status == "held"
    assert hospital.slots[a.slot_id].free == a.free - 1


class LostHold(FakeHospital):
    """The hub holds the slot, and its first answer never reaches the kiosk."""

    lose = 1

    def hold_slot(self, patient_id: str, slot_id: str, *, idempotency_key: str) -> Booking:
        booking = super().hold_slot(patient_id, slot_id, idempotency_key=idempotency_key)
        if self.lose > 0:
            self.lose -= 1
            raise HospitalUnavailable()
        return booking


def test_a_tap_the_hub_held_but_never_answered_finds_that_hold_on_the_next_tap() -> None:
    hospital = LostHold(today=TODAY)
    session = known(hospital)
    slot = book.offer_slots(hospital, session).slots[0]
    assert book.hold(hospital, session, slot).notice.code == "booking_offline"
    held = book.hold(hospital, session, slot)  # asked again under its key: not 'already booked'
    assert held.notice.code == "booked" and held.booking is not None
    assert list(hospital.bookings) == [held.booking.booking_id] and hospital.slots[slot.slot_id].free == slot.free - 1
