"""payment-void/1 records (a kiosk never got the answer to its payment.pay) taken in from the record
store: an approval she never saw is reversed at the acquirer simulator (its ledger ends not
charged), each void once; a void from another device, or that does not open, is refused and
changes nothing; with no gateway a void waits."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cbor2
import pytest

from central_hub.datakey import DataCipher
from central_hub.services import voids as vd
from central_hub.services.db import ServicesDb
from central_hub.services.dispatcher import Dispatcher
from central_hub.store import Store, open_store
from central_hub.store.model import record_aad, record_digest
from tests.acquirer_simulator.support import CARDS, TERMINAL, Acquirer
from tests.central_hub.services.conftest import DEVICE, Clock, call, make_dispatcher
from tests.central_hub.services.test_payments import _gateway, _held_booking, _pay_args
from tests.central_hub.services.test_payments import acquirer as acquirer  # the simulator fixture, shared

pytestmark = pytest.mark.integration

KEY = "7" * 32  # the idempotency key of the payment.pay whose answer was lost


@dataclass
class Hub:
    store: Store
    db: ServicesDb
    cipher: DataCipher
    dispatcher: Dispatcher
    intake: vd.VoidIntake
    clock: Clock

    def commit(self, msg_id: int, body: dict[str, Any], device: str = DEVICE, schema: str = vd.SCHEMA) -> None:
        """One record committed as the ingest commits it."""
        plain = cbor2.dumps(body)
        now_ms = int(self.clock() * 1000)
        key_id, nonce, sealed = self.cipher.seal(record_aad(device, msg_id), plain)
        with self.store.transaction([]) as txn:
            txn.add_records([(device, msg_id, schema, now_ms, now_ms, now_ms, key_id, nonce, sealed,
                              record_digest(now_ms, plain))])


@pytest.fixture
def hub(hub_db_url: str, clock: Clock, acquirer: Acquirer) -> Iterator[Hub]:
    store, db, cipher = open_store(hub_db_url), ServicesDb(hub_db_url), DataCipher.generate()
    d = make_dispatcher(db, clock, _gateway(acquirer.host, acquirer.port))
    yield Hub(store, db, cipher, d, vd.VoidIntake(store, db, cipher, d.payments, clock), clock)
    db.close()
    store.close()


def paid_booking(d: Dispatcher, key: str = KEY) -> dict[str, Any]:
    booking = _held_booking(d)
    assert call(d, "payment.pay", _pay_args(booking, "approve"), key)["outcome"] == "approved"  # answer lost
    return booking


def void(booking: dict[str, Any], key: str = KEY) -> dict[str, Any]:
    return {"idempotency_key": key, "booking_id": booking["booking_id"], "amount_fen": booking["fee_fen"],
            "terminal_id": TERMINAL}


def test_the_kiosks_void_reverses_the_approval_she_never_saw_once(hub: Hub, acquirer: Acquirer) -> None:
    booking = paid_booking(hub.dispatcher)
    assert acquirer.balance(CARDS["approve"]) == 1_000_000 - booking["fee_fen"]
    hub.commit(1, void(booking))
    assert hub.intake.step() == 1
    assert acquirer.balance(CARDS["approve"]) == 1_000_000  # the acquirer's ledger: not charged
    assert [o for _, _, o in hub.dispatcher.payments.outcomes()] == ["not-charged"]
    assert hub.dispatcher.schedule.booking(booking["booking_id"])["status"] == "released"
    assert vd.voids(hub.db) == [(DEVICE, 1, "reversed", "1 approval(s) reversed")]
    hub.commit(2, void(booking))  # the outbox delivered it again under another id
    assert hub.intake.step() == 1 and hub.intake.step() == 0
    assert [s for _, _, s, _ in vd.voids(hub.db)] == ["reversed", "nothing"]
    assert acquirer.balance(CARDS["approve"]) == 1_000_000 and len(acquirer.events("charge")) == 1


def test_a_void_from_another_device_or_that_does_not_open_changes_nothing(hub: Hub, acquirer: Acquirer) -> None:
    booking = paid_booking(hub.dispatcher)
    hub.commit(1, void(booking), device="kiosk-002")  # it sent no payment under that key
    hub.commit(2, {**void(booking), "pan": CARDS["approve"]})  # not a valid payment-void/1
    assert hub.intake.step() == 2
    statuses = {m: (s, d) for _, m, s, d in vd.voids(hub.db)}
    assert statuses[1][0] == "refused" and statuses[1][1].startswith("unknown-payment")
    assert statuses[2][0] == "refused" and "not a valid payment-void/1" in statuses[2][1]
    assert CARDS["approve"] not in str(statuses)
    assert [o for _, _, o in hub.dispatcher.payments.outcomes()] == ["approved"]
    assert acquirer.balance(CARDS["approve"]) == 1_000_000 - booking["fee_fen"]


def test_with_no_gateway_a_void_waits_and_is_taken_in_later(hub: Hub, acquirer: Acquirer) -> None:
    booking = paid_booking(hub.dispatcher)
    live = hub.dispatcher.payments.gateway
    hub.dispatcher.payments.gateway = None
    hub.commit(1, void(booking))
    assert hub.intake.step() == 0 and vd.voids(hub.db) == []
    hub.dispatcher.payments.gateway = live
    assert hub.intake.step() == 1 and acquirer.balance(CARDS["approve"]) == 1_000_000
