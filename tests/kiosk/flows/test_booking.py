"""Booking (预约) against the fake hospital: a slot is held only by the hub, and a hub that cannot be
reached is refused clearly (`booking_offline`) with nothing held."""

from __future__ import annotations

import random

from kiosk.flows import booking as book
from kiosk.flows.session import Session
from kiosk.idcard.synthetic import synthetic_identity
from tests.kiosk.fake_hospital import FakeHospital


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
