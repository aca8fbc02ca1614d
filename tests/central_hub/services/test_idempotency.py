"""Idempotency keys: a retry gets the first answer and runs nothing again; a reused key with other
arguments is refused; changing methods need a key."""

from __future__ import annotations

import threading

from central_hub.services.db import ServicesDb
from central_hub.services.dispatcher import Dispatcher
from tests.central_hub.services.conftest import DEVICE, call, refusal

NEW = {"id_number": "11010519491231002X", "name": "王测试", "sex": "2", "birth_date": "1949-12-31"}


def test_retry_answers_from_the_record_and_runs_once(dispatcher: Dispatcher, services_db: ServicesDb) -> None:
    slot = call(dispatcher, "schedule.free_slots", {"visit_code": "ANC1"})[0]
    pid = call(dispatcher, "patient.register", NEW, "idem-k-0001")["patient_id"]
    first = call(dispatcher, "booking.hold", {"patient_id": pid, "slot_id": slot["slot_id"]}, "idem-k-0002")
    again = call(dispatcher, "booking.hold", {"patient_id": pid, "slot_id": slot["slot_id"]}, "idem-k-0002")
    assert again == first
    assert services_db.query("SELECT count(*) FROM svc_bookings")[0][0] == 1
    assert refusal(dispatcher, "booking.hold", {"patient_id": pid, "slot_id": "other"}, "idem-k-0002") == \
        "idempotency-conflict"
    assert refusal(dispatcher, "booking.hold", {"patient_id": pid, "slot_id": slot["slot_id"]}) == "bad-request"
    assert refusal(dispatcher, "no.such", {}) == "unknown-method"


def test_a_refusal_is_kept_too(dispatcher: Dispatcher) -> None:
    bad = {**NEW, "id_number": "110105194912310021"}
    assert refusal(dispatcher, "patient.register", bad, "idem-k-0003") == "bad-id-number"
    assert refusal(dispatcher, "patient.register", bad, "idem-k-0003") == "bad-id-number"


def test_concurrent_duplicates_run_once(dispatcher: Dispatcher, services_db: ServicesDb) -> None:
    pid = call(dispatcher, "patient.register", NEW, "idem-k-0004")["patient_id"]
    slot = call(dispatcher, "schedule.free_slots", {"visit_code": "ANC1"})[0]
    answers: list[object] = []

    def hold() -> None:
        answers.append(dispatcher.handle(DEVICE, "booking.hold", {"patient_id": pid, "slot_id": slot["slot_id"]},
                                         "idem-k-0005"))

    threads = [threading.Thread(target=hold) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(answers) == 4 and all(a == answers[0] for a in answers) and answers[0][0]  # type: ignore[index]
    assert services_db.query("SELECT count(*) FROM svc_bookings")[0][0] == 1
