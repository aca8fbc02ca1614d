"""Schedule and slots: the national visit for a gestational age, holds, capacity, hold timeout, release."""

from __future__ import annotations

import pytest

from central_hub.services.dispatcher import Dispatcher
from central_hub.services.schedule import recommended_visit_code
from tests.central_hub.services.conftest import Clock, call, refusal, synthetic_id

PEOPLE = [{"id_number": n, "name": f"测试{i}", "sex": "2", "birth_date": n[6:10] + "-" + n[10:12] + "-" + n[12:14]}
          for i, n in enumerate(synthetic_id(f"1101051990010100{k}") for k in range(5))]


@pytest.mark.parametrize(("ga_days", "visit"), [(0, "ANC1"), (12 * 7 + 6, "ANC1"), (13 * 7, "ANC2"),
                                                (20 * 7 + 6, "ANC2"), (21 * 7, "ANC3"), (25 * 7, "ANC4"),
                                                (36 * 7 + 6, "ANC4"), (37 * 7, "ANC5"), (40 * 7 + 6, "ANC5"),
                                                (41 * 7, None)])
def test_recommended_visit_follows_the_national_schedule(ga_days: int, visit: str | None) -> None:
    assert recommended_visit_code(ga_days) == visit


def test_seed_is_idempotent_and_slots_are_in_the_future(dispatcher: Dispatcher) -> None:
    assert dispatcher.schedule.seed() == 0
    slots = call(dispatcher, "schedule.free_slots", {"visit_code": "ANC2", "days": 14})
    assert slots and all(s["visit_code"] == "ANC2" and s["fee_fen"] == 2500 and s["free"] == 4 for s in slots)
    assert slots == sorted(slots, key=lambda s: s["starts_at"])
    assert slots[0]["starts_at"] > "2026-12-03T09:00"


def test_holds_fill_a_slot_expire_and_release(dispatcher: Dispatcher, clock: Clock) -> None:
    pids = [call(dispatcher, "patient.register", p, f"idem-reg-{i:04d}")["patient_id"] for i, p in enumerate(PEOPLE)]
    slot = call(dispatcher, "schedule.free_slots", {"visit_code": "ANC2"})[0]
    bookings = [call(dispatcher, "booking.hold", {"patient_id": pid, "slot_id": slot["slot_id"]}, f"idem-hold-{i:04d}")
                for i, pid in enumerate(pids[:4])]
    assert all(b["status"] == "held" and b["fee_fen"] == 2500 for b in bookings)
    assert bookings[-1]["slot"]["free"] == 0
    assert slot["slot_id"] not in {s["slot_id"] for s in call(dispatcher, "schedule.free_slots", {"visit_code": "ANC2"})}
    assert refusal(dispatcher, "booking.hold", {"patient_id": pids[4], "slot_id": slot["slot_id"]},
                   "idem-hold-0004") == "slot-full"
    assert refusal(dispatcher, "booking.hold", {"patient_id": pids[0], "slot_id": slot["slot_id"]},
                   "idem-hold-0005") == "slot-full"
    call(dispatcher, "booking.release", {"booking_id": bookings[0]["booking_id"]}, "idem-rel-0000")
    assert dispatcher.schedule.booking(bookings[0]["booking_id"])["status"] == "released"
    b5 = call(dispatcher, "booking.hold", {"patient_id": pids[4], "slot_id": slot["slot_id"]}, "idem-hold-0006")
    clock.now += 10 * 60 + 1  # past the 10-minute hold
    assert dispatcher.schedule.booking(b5["booking_id"])["status"] == "released"
    free = {s["slot_id"]: s["free"] for s in call(dispatcher, "schedule.free_slots", {"visit_code": "ANC2"})}
    assert free[slot["slot_id"]] == 4
    assert refusal(dispatcher, "booking.hold", {"patient_id": "P00", "slot_id": slot["slot_id"]},
                   "idem-hold-0007") == "unknown-patient"
    assert refusal(dispatcher, "booking.hold", {"patient_id": pids[0], "slot_id": "nope"}, "idem-hold-0008") == \
        "unknown-slot"


def test_a_patient_holds_one_slot_per_visit(dispatcher: Dispatcher) -> None:
    """Her first hold's answer was lost (the kiosk never learnt its id) and she chose another slot: the
    first is free again at once, not after its 10-minute timeout; a hold for another visit stays."""
    pid = call(dispatcher, "patient.register", PEOPLE[0], "idem-reg-one")["patient_id"]
    first, second = call(dispatcher, "schedule.free_slots", {"visit_code": "ANC2"})[:2]
    lost = call(dispatcher, "booking.hold", {"patient_id": pid, "slot_id": first["slot_id"]}, "idem-hold-lost")
    other_visit = call(dispatcher, "schedule.free_slots", {"visit_code": "ANC3"})[0]
    kept = call(dispatcher, "booking.hold", {"patient_id": pid, "slot_id": other_visit["slot_id"]}, "idem-hold-anc3")
    now = call(dispatcher, "booking.hold", {"patient_id": pid, "slot_id": second["slot_id"]}, "idem-hold-now")
    assert dispatcher.schedule.booking(lost["booking_id"])["status"] == "released"
    assert dispatcher.schedule.booking(now["booking_id"])["status"] == "held"
    assert dispatcher.schedule.booking(kept["booking_id"])["status"] == "held"
    free = {s["slot_id"]: s["free"] for s in call(dispatcher, "schedule.free_slots", {"visit_code": "ANC2"})}
    assert free[first["slot_id"]] == 4 and free[second["slot_id"]] == 3
