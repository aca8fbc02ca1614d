"""payment-void/1 through all of it: the kiosk's payment flow on the PIN pad and receipt printer
simulators pays through the real broker and the real hub, whose gateway has the acquirer simulator
approve it over ISO 8583; the hub's answers come back, but only after the kiosk stopped waiting (its
RPC timeout is shorter than any round trip), so every retry under the same idempotency key ends the
same way. The kiosk then commits payment-void/1 to the link's durable outbox and tells her any amount
taken is returned; the DeviceLink delivers it, and the hub reverses the approval at the acquirer
(0400 in the acquirer's journal, balance restored), marks the payment not charged and frees the slot."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from central_hub.services.db import services_db_url
from central_hub.services.lane import SETTLE_EVERY_S
from central_hub.store import open_store
from kiosk.app import demo_keys
from kiosk.app.launch import LinkQueue
from kiosk.epp.protocol import Usage
from kiosk.flows.identify import new_patient
from kiosk.flows.payment import pay
from kiosk.flows.pin import PinKeys
from kiosk.flows.session import Session
from kiosk.hospital.api import PregnancyForm
from kiosk.hospital.client import HubHospitalClient
from kiosk.idcard.synthetic import synthetic_identity
from mch_link.device import DeviceLink
from mch_link.keys import KEYS_FILE, LinkKeys
from mch_link.rpc import RpcClient
from tests.acquirer_simulator.support import CARDS, PIN, PIN_KEY, TAK, TERMINAL
from tests.central_hub.test_commands_e2e import wait_for
from tests.kiosk.app.test_end_to_end import DEVICE
from tests.kiosk.app.test_end_to_end import hub_side as hub_side  # broker, hub and acquirer, shared
from tests.kiosk.flows.conftest import Pad, PressingPad, Printer, card_data
from tests.kiosk.flows.conftest import pad as pad  # the PIN pad on its simulator, demo keys loaded
from tests.kiosk.flows.conftest import printer as printer  # the receipt printer on its simulator

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOO_SHORT_S = 0.001  # the kiosk stops waiting before any answer can cross broker, hub and acquirer
CONFIRM_WITHIN_S = 1.0  # the kiosk's window of retries, shortened from 60 s (still more than two retries)
RETRY_PAUSE_S = 0.5  # the first attempt is settled at the hub before its retry comes
PIN_SLOT = 3
VOID_TAKEN_S = SETTLE_EVERY_S + 15  # the hub takes voids in on its settle round
OPENING_FEN = 1_000_000  # the approve account's balance in the simulator


def _acquirer_keys(pad: Pad) -> PinKeys:
    """The acquirer's terminal PIN key and MAC key (its own ceremony), sent under the pad's master key."""
    demo_keys.load_work_keys(pad.driver, ((PIN_SLOT, Usage.PIN, PIN_KEY), (demo_keys.TERMINAL_MAC_SLOT, Usage.MAC, TAK)))
    return PinKeys(PIN_SLOT, demo_keys.KEYS.mac_slot, demo_keys.TERMINAL_MAC_SLOT)


def _booked(client: HubHospitalClient) -> Session:
    """A registered patient with a visit held at the real hub, and her bank card read."""
    session = Session()
    session.identity = synthetic_identity(random.Random(12))
    session.patient = client.register_patient(new_patient(session.identity), idempotency_key="a1" * 16)
    client.create_pregnancy_record(PregnancyForm(session.patient.patient_id, dt.date.today() - dt.timedelta(days=90),
                                                 160.0, 55.0, 1, 0), idempotency_key="a2" * 16)
    visit = client.recommended_visit(session.patient.patient_id)
    assert visit is not None
    slot = client.free_slots(visit)[0]
    session.booking = client.hold_slot(session.patient.patient_id, slot.slot_id, idempotency_key="a3" * 16)
    session.bank_card = replace(card_data(), pan=CARDS["approve"])
    return session


def test_an_approval_whose_answer_never_reached_the_kiosk_is_voided_by_the_hub(
        hub_side: Any, pad: Pad, printer: Printer, tmp_path: Path) -> None:
    bundle, broker, hub, acquirer = hub_side
    link = DeviceLink.from_bundle(bundle, tmp_path / "outbox.sqlite3", broker=(broker.host, broker.port))
    keys = LinkKeys.read(bundle / KEYS_FILE)
    rpc = RpcClient(link, keys.device_id, keys)
    link.start()
    services = open_store(services_db_url(hub.db_url, hub.state_dir))  # read only: the hub owns it
    try:
        assert link.wait_connected(10)
        session = _booked(HubHospitalClient(rpc, link))
        booking = session.booking
        assert booking is not None and booking.status == "held"
        impatient = HubHospitalClient(rpc, link, payment_timeout_s=TOO_SHORT_S)
        late_before = rpc.refused_responses
        paid = pay(impatient, PressingPad(pad, [*PIN, "ENTER"]), printer.driver, session, _acquirer_keys(pad),
                   TERMINAL, queue=LinkQueue(link), confirm_within_s=CONFIRM_WITHIN_S, retry_pause_s=RETRY_PAUSE_S)

        # what she is told: not confirmed, any amount taken comes back, a reference for the window
        assert (paid.outcome, paid.notice.code) == ("unconfirmed", "payment_unconfirmed")
        told = paid.notice.text("zh")
        assert "如有扣款将自动退回" in told and paid.notice.params["ref"] in told
        assert session.payment is None
        # the hub did charge her card, and did answer every try, too late for the kiosk
        charges = acquirer.events("charge")
        assert [(e["code"], e["amount_fen"]) for e in charges] == [("00", booking.fee_fen)]
        assert acquirer.balance(CARDS["approve"]) == OPENING_FEN - booking.fee_fen
        assert wait_for(lambda: rpc.refused_responses - late_before >= 3), rpc.refused_responses - late_before

        # the void crosses the broker from the durable outbox into the hub's record store
        assert link.wait_drained(10)
        assert "payment-void/1" in {s for _, s, *_ in hub.store().sealed_records(DEVICE)}

        def void_status() -> list[tuple[str, str]]:
            return [(str(s), str(d)) for s, d in services.read(
                "SELECT status, detail FROM svc_payment_voids WHERE device_id = ?", (DEVICE,))]

        taken = wait_for(void_status, VOID_TAKEN_S)
        assert taken == [("reversed", "1 approval(s) reversed")], taken
        reversals = acquirer.events("reversal")
        assert [(e["code"], e["amount_fen"]) for e in reversals] == [("00", booking.fee_fen)]
        assert acquirer.balance(CARDS["approve"]) == OPENING_FEN  # not charged, as she was promised
        assert len(acquirer.events("charge")) == 1  # and never charged twice
        outcomes = services.read("SELECT outcome FROM svc_payments WHERE booking_id = ?", (booking.booking_id,))
        assert [str(o) for o, in outcomes] == ["not-charged"]
        status = services.read("SELECT status FROM svc_bookings WHERE booking_id = ?", (booking.booking_id,))
        assert [str(s) for s, in status] == ["released"]  # her slot is free again
    finally:
        link.stop()
        services.close()
