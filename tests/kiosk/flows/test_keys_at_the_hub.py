"""The booking flow's idempotency keys against the real hub services in-process: the kiosk's client
(kiosk/hospital/client.py) and the hub's dispatcher (central_hub/services/dispatcher.py) on a fresh
database of each dialect, only the broker left out. The fake hospital must refuse a reused key the
way this dispatcher does, so the flow tests cannot hide a key bug again: checked here side by side."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from central_hub.services.db import ServicesDb
from central_hub.services.dispatcher import Dispatcher
from kiosk.flows import booking as book
from kiosk.flows.identify import new_patient
from kiosk.flows.session import Session
from kiosk.hospital.api import HospitalError, HospitalServices, Patient, PregnancyForm
from kiosk.hospital.client import HubHospitalClient
from kiosk.idcard.synthetic import synthetic_identity
from mch_link.rpc import RpcRefused
from tests.central_hub.services.conftest import DEVICE, Clock, make_dispatcher
from tests.kiosk.fake_hospital import FakeHospital


class InProcessRpc:
    """mch_link.rpc.RpcClient's `call` answered by the hub's dispatcher (JSON both ways, as on the wire)."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    def call(self, method: str, args: dict[str, Any], *, idempotency_key: str | None = None,
             timeout_s: float = 0.0) -> Any:
        ok, result = self.dispatcher.handle(DEVICE, method, json.loads(json.dumps(args)), idempotency_key)
        if not ok:
            raise RpcRefused(result["code"], result["message"])
        return json.loads(json.dumps(result))


@pytest.fixture
def hub(hub_db_url: str) -> Iterator[tuple[Dispatcher, HubHospitalClient, Clock]]:
    db, clock = ServicesDb(hub_db_url), Clock()
    dispatcher = make_dispatcher(db, clock)
    yield dispatcher, HubHospitalClient(InProcessRpc(dispatcher)), clock  # type: ignore[arg-type]
    db.close()


def registered(client: HubHospitalClient, clock: Clock) -> Session:
    identity = synthetic_identity(random.Random(21))
    session = Session(identity=identity)
    session.patient = client.register_patient(new_patient(identity), idempotency_key=session.idempotency_key("reg"))
    client.create_pregnancy_record(PregnancyForm(session.patient.patient_id, clock.today() - dt.timedelta(days=120),
                                                 160.0, 55.0, 1, 0), idempotency_key=session.idempotency_key("preg"))
    return session


def test_hold_a_then_b_then_a_again_is_a_live_hold_at_the_hub(hub: tuple[Dispatcher, HubHospitalClient, Clock]) -> None:
    dispatcher, client, clock = hub
    session = registered(client, clock)
    a, b = book.offer_slots(client, session).slots[:2]
    first = book.hold(client, session, a).booking
    assert first is not None and book.hold(client, session, b).booking is not None
    assert dispatcher.schedule.booking(first.booking_id)["status"] == "released"
    again = book.hold(client, session, a)
    assert again.notice.code == "booked" and again.booking is not None
    assert again.booking.booking_id != first.booking_id
    assert dispatcher.schedule.booking(again.booking.booking_id)["status"] == "held"


def _codes(services: HospitalServices, patient: Patient, slots: list[str]) -> list[str]:
    """Codes of a reused key: for another slot, for another method, and a refusal asked again."""
    a, b = slots[:2]
    held = services.hold_slot(patient.patient_id, a, idempotency_key="k1")
    codes = []
    for call in (lambda: services.hold_slot(patient.patient_id, b, idempotency_key="k1"),
                 lambda: services.release_booking(held.booking_id, idempotency_key="k1"),
                 lambda: services.hold_slot(patient.patient_id, "no-such-slot", idempotency_key="k2"),
                 lambda: services.hold_slot(patient.patient_id, "no-such-slot", idempotency_key="k2")):
        with pytest.raises(HospitalError) as refused:
            call()
        codes.append(refused.value.code)
    assert services.hold_slot(patient.patient_id, a, idempotency_key="k1") == held  # the same request: its answer
    return codes


def test_the_fake_hospital_refuses_a_reused_key_as_the_hub_does(hub: tuple[Dispatcher, HubHospitalClient, Clock]) -> None:
    _, client, clock = hub
    session = registered(client, clock)
    assert session.patient is not None
    at_hub = _codes(client, session.patient, [s.slot_id for s in book.offer_slots(client, session).slots])
    fake = FakeHospital()
    fake_session = Session(identity=session.identity)
    fake_session.patient = fake.register_patient(new_patient(session.identity), idempotency_key="r")  # type: ignore[arg-type]
    in_fake = _codes(fake, fake_session.patient, [s.slot_id for s in book.offer_slots(fake, fake_session).slots])
    assert at_hub == in_fake == ["idempotency-conflict", "idempotency-conflict", "unknown-slot", "unknown-slot"]
