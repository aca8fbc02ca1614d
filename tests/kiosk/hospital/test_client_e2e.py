"""HubHospitalClient against all of it: the real broker (project ACL), the real hub with its
services, and the acquirer simulator over TCP; every HospitalServices method is called.
The outbox records (pregnancy record, binding, payment result) are stored by the hub like any record."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.bankcard.card_data import mask_pan
from kiosk.flows.identify import identify_by_number
from kiosk.flows.messages import HUB_REFUSALS, hub_refused
from kiosk.flows.session import Session
from kiosk.hospital.api import (
    CardholderCheck,
    HospitalError,
    HospitalUnavailable,
    NewPatient,
    PaymentRequest,
    PregnancyForm,
)
from kiosk.hospital.client import HubHospitalClient
from mch_link.device import DeviceLink
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.site import Site
from tests.acquirer_simulator.support import (
    CARDS,
    MAC_KEY,
    TERMINAL,
    Acquirer,
    pin_block,
    run_acquirer,
    terminal_mac,
)
from tests.support.hub import HubFactory, HubProcess, wait_for_records

pytestmark = pytest.mark.integration

DEVICE = "kiosk-001"
ID = "110105199603070029"  # synthetic, GB 11643 check digit correct
NEW = NewPatient(ID, "张测试", "2", dt.date(1996, 3, 7), nation="01")


def _key(n: int) -> str:
    return f"{n:032x}"


@pytest.fixture
def kiosk(site: Site, enroll_device, broker: BrokerProcess, hub_factory: HubFactory,  # noqa: ANN001
          hub_db_url: str, tmp_path: Path) -> Iterator[tuple[HubHospitalClient, DeviceLink, HubProcess, Acquirer]]:
    bundle = enroll_device(DEVICE, "kiosk")
    with run_acquirer(tmp_path / "acq") as acquirer:
        state = tmp_path / "hub-state"
        state.mkdir()
        settings = state / "services.json"
        fd = os.open(settings, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"acquirer": {"host": acquirer.host, "port": acquirer.port, "mac_key": MAC_KEY.hex()}}, f)
        hub = hub_factory(site.path, hub_db_url, broker=broker, state_dir=state)  # SQLite and PostgreSQL
        client, link = HubHospitalClient.connect(bundle, tmp_path / "outbox.db", (broker.host, broker.port))
        deadline = time.monotonic() + 10
        while not link.stats.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        try:
            yield client, link, hub, acquirer
        finally:
            link.stop()


def _pay(client: HubHospitalClient, booking_id: str, fee: int, card: str, key: str):  # noqa: ANN202
    pan = CARDS[card]
    mac = bytes.fromhex(terminal_mac("000000", fee, pan, "3012", pin_block(pan).hex()))
    return client.pay(PaymentRequest(booking_id, fee, pan, "01", dt.date(2030, 12, 31), pin_block(pan), TERMINAL, mac),
                      idempotency_key=key)


def _check(patient_id: str, token: str, pin: str = "246810", binding_id: str | None = None) -> CardholderCheck:
    pan = CARDS["approve"]
    block = pin_block(pan, pin)
    return CardholderCheck(patient_id, token, pan, "01", dt.date(2030, 12, 31), block, TERMINAL,
                           bytes.fromhex(terminal_mac("330000", 0, pan, "3012", block.hex())), binding_id)


def test_every_method_through_broker_hub_and_acquirer(kiosk) -> None:  # noqa: ANN001
    client, link, hub, acquirer = kiosk
    assert client.find_patient(id_number=ID) is None
    patient = client.register_patient(NEW, idempotency_key=_key(1))
    assert patient.masked_id_number == "110105********0029" and patient.name == "张测试"
    assert client.find_patient(outpatient_no=patient.outpatient_no) == patient
    # the numbers the hub issues are ones she can type on the kiosk's keypad, and they find her
    for kind, number in (("outpatient", patient.outpatient_no), ("medical_card", patient.medical_card_no)):
        found = identify_by_number(client, Session(), kind, str(number))
        assert found.status == "found" and found.patient == patient, (kind, number, found)
    today = dt.date.today()
    record = client.create_pregnancy_record(PregnancyForm(patient.patient_id, today - dt.timedelta(days=120), 158.0,
                                                          52.0, 2, 1, {"2.2": True}), idempotency_key=_key(2))
    assert record.gestational_age_days == 120 and record.edd == today + dt.timedelta(days=160)
    assert record.screen_positive and record.positive_items == ("2.2",)
    assert client.find_patient(id_number=ID).has_pregnancy_record  # type: ignore[union-attr]
    token = "epp-mac1:" + "0a1b2c3d4e5f6789"  # the kiosk flow's form
    wrong = client.verify_cardholder(_check(patient.patient_id, token, "135790"), idempotency_key=_key(30))
    assert (wrong.outcome, wrong.response_code, wrong.ticket) == ("declined", "55", None)
    verified = client.verify_cardholder(_check(patient.patient_id, token), idempotency_key=_key(31))
    assert verified.outcome == "verified" and verified.ticket
    with pytest.raises(HospitalError) as unverified:
        client.bind_card(patient.patient_id, card_token=token, masked_pan=mask_pan(CARDS["approve"]),
                         verification=wrong.ticket or "", idempotency_key=_key(32))
    assert unverified.value.code == "not-verified"
    binding = client.bind_card(patient.patient_id, card_token=token, masked_pan=mask_pan(CARDS["approve"]),
                               verification=verified.ticket, idempotency_key=_key(3))
    assert binding.masked_pan == "621700******" + CARDS["approve"][-4:]
    assert client.card_bindings(patient.patient_id) == [binding]
    again = client.verify_cardholder(_check(patient.patient_id, token, binding_id=binding.binding_id),
                                     idempotency_key=_key(33))
    assert again.ticket
    client.unbind_card(patient.patient_id, binding.binding_id, verification=again.ticket, idempotency_key=_key(4))
    assert client.card_bindings(patient.patient_id) == []
    visit = client.recommended_visit(patient.patient_id)
    assert visit == "ANC2"  # 17 weeks + 1 day
    slots = client.free_slots(visit, days=14)
    assert slots and slots[0].fee_fen == 2500
    spare = client.hold_slot(patient.patient_id, slots[1].slot_id, idempotency_key=_key(6))
    client.release_booking(spare.booking_id, idempotency_key=_key(7))  # (a new hold would release it too)
    booking = client.hold_slot(patient.patient_id, slots[0].slot_id, idempotency_key=_key(5))
    assert booking.status == "held" and booking.slot.free == slots[0].free - 1
    result = _pay(client, booking.booking_id, booking.fee_fen, "approve", _key(8))
    assert result.outcome == "approved" and result.auth_code
    assert _pay(client, booking.booking_id, booking.fee_fen, "approve", _key(8)) == result  # retry: same answer
    with pytest.raises(HospitalError) as again:
        _pay(client, booking.booking_id, booking.fee_fen, "approve", _key(9))
    assert again.value.code == "already-paid"
    with pytest.raises(HospitalError) as conflict:  # the same key for another request
        _pay(client, booking.booking_id, booking.fee_fen + 1, "approve", _key(8))
    assert conflict.value.code == "idempotency-conflict"
    for refused in (again.value, conflict.value):  # worded from the code she is told in, not the hub's words
        told = hub_refused(refused.code)
        assert (told.text("zh"), told.text("en")) == HUB_REFUSALS[refused.code] and refused.message not in told.text("en")
    assert len(acquirer.events("charge")) == 1
    assert [e["code"] for e in acquirer.events("verify")] == ["55", "00", "00"]  # verifications charge nothing
    # the records that must not be lost are in the hub's record store too (pregnancy, bound, unbound, payment)
    assert link.wait_drained(10)
    assert wait_for_records(hub.db_url, 4, 10, DEVICE) == 4
    schemas = sorted(s for _, s, *_ in hub.store().sealed_records(DEVICE))
    assert schemas == ["card-binding/1", "card-binding/1", "payment-result/1", "pregnancy-record/1"]


def test_acquirer_timeout_is_not_charged_and_hub_down_is_unavailable(kiosk) -> None:  # noqa: ANN001
    client, link, hub, acquirer = kiosk
    patient = client.register_patient(NEW, idempotency_key=_key(11))
    client.create_pregnancy_record(PregnancyForm(patient.patient_id, dt.date.today() - dt.timedelta(days=60), 160.0,
                                                 55.0, 1, 0), idempotency_key=_key(12))
    slot = client.free_slots(client.recommended_visit(patient.patient_id) or "ANC1")[0]
    booking = client.hold_slot(patient.patient_id, slot.slot_id, idempotency_key=_key(13))
    result = _pay(client, booking.booking_id, booking.fee_fen, "timeout", _key(14))
    assert result.outcome == "not-charged" and "reversed" in result.reason
    assert acquirer.balance(CARDS["timeout"]) == 1_000_000
    declined = _pay(client, booking.booking_id, booking.fee_fen, "poor", _key(15))
    assert (declined.outcome, declined.reason) == ("declined", "insufficient funds")
    hub.stop()
    started = time.monotonic()
    with pytest.raises(HospitalUnavailable):
        client.find_patient(id_number=ID)
    assert time.monotonic() - started < client.timeout_s + 0.5
