"""The transactional outbox on SQLite and PostgreSQL: a fed record and its outbox row commit together."""

from __future__ import annotations

import random

import pytest

from central_hub.datakey import DataCipher
from central_hub.feed import outbox
from central_hub.store import Store, open_store
from tests.central_hub.feed import records


def test_fed_schemas_get_an_outbox_row_in_the_same_transaction(store: Store) -> None:
    cipher = DataCipher.generate()
    rng = random.Random(1)
    records.commit(store, cipher, [("kiosk-001", 1, "antenatal-booking/1", records.booking(rng, 1)),
                                   ("station-1", 1, "ctg/1", {"not": "fed"}),
                                   ("station-1", 2, "classification/1", records.classification(3))])
    rows = outbox.head(store, 10)
    assert [(r.device_id, r.msg_id, r.schema_id, r.queued_at_ms) for r in rows] == [
        ("kiosk-001", 1, "antenatal-booking/1", records.T0_MS), ("station-1", 2, "classification/1", records.T0_MS)]
    assert outbox.feed_status(store, records.T0_MS + 5000)["pending"] == 2
    assert outbox.feed_status(store, records.T0_MS + 5000)["oldest_pending_age_ms"] == 5000


def test_a_rolled_back_batch_leaves_neither_record_nor_outbox_row(store: Store) -> None:
    cipher = DataCipher.generate()
    with pytest.raises(RuntimeError):
        with store.transaction([]) as txn:
            txn.add_records([records.record_row(cipher, "kiosk-001", 9, "antenatal-booking/1", {"any": 1})])
            txn.flush()  # the insert (and its trigger) ran inside the transaction ...
            raise RuntimeError("... which then fails")
    assert store.record_count() == 0
    assert outbox.head(store, 10) == []


def test_a_record_stored_twice_is_queued_once(store: Store) -> None:
    cipher = DataCipher.generate()
    body = records.booking(random.Random(2), 2)
    records.commit(store, cipher, [("kiosk-001", 5, "antenatal-booking/1", body)])
    records.commit(store, cipher, [("kiosk-001", 5, "antenatal-booking/1", body)])  # ON CONFLICT DO NOTHING
    assert store.record_count() == 1 and len(outbox.head(store, 10)) == 1


def test_requeue_makes_dead_letters_pending_and_needs_a_reason(store: Store) -> None:
    cipher = DataCipher.generate()
    records.commit(store, cipher, [("kiosk-001", i, "antenatal-visit/1", records.visit(i, 1)) for i in (1, 2)])
    first, second = outbox.head(store, 10)
    outbox.save(store, [outbox.Result(first.id, outbox.DEAD, 1, error="HTTP 422: no", http_status=422,
                                      outcome='{"resourceType": "OperationOutcome", "issue": []}')])
    (dead,) = outbox.dead_letters(store)
    assert (dead.id, dead.http_status, dead.error, dead.outcome) == (
        first.id, 422, "HTTP 422: no", {"resourceType": "OperationOutcome", "issue": []})
    with pytest.raises(outbox.FeedError, match="reason"):
        outbox.requeue(store, None, " ")
    assert outbox.requeue(store, [second.id], "not dead") == 0
    assert outbox.requeue(store, None, "county fixed its profile") == 1
    assert [r.id for r in outbox.head(store, 10)] == [first.id, second.id]
    assert outbox.dead_letters(store) == []


def test_migrate_is_idempotent_and_the_trigger_survives_reopening(hub_db_url: str) -> None:
    for _ in range(2):
        s = open_store(hub_db_url)
        s.close()
    s = open_store(hub_db_url)
    try:
        records.commit(s, DataCipher.generate(), [("kiosk-001", 1, "delivery/1", records.delivery(1))])
        assert len(outbox.head(s, 10)) == 1
    finally:
        s.close()

