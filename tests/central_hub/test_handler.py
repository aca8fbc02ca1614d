"""The message handler against envelopes sealed like a device's; every rejection names its reason."""

from __future__ import annotations

import cbor2
import pytest

from central_hub.outcome import Reason, Status
from central_hub.store import Store
from mch_link import cose
from mch_link.envelope import Record
from mch_link.keys import DirectionKey
from mch_link.registry import DeviceStatus
from mch_link.topics import Kind, topic
from tests.central_hub.helpers import NOW_MS, FakeDevice, Rig, entry, sim_body


@pytest.fixture
def rig(store: Store) -> Rig:
    return Rig(store, [entry("sim-001"), entry("sim-002"), entry("sim-999", DeviceStatus.REVOKED)])


@pytest.fixture
def dev(rig: Rig) -> FakeDevice:
    return FakeDevice(rig.registry["sim-001"])


def test_valid_message_is_stored_and_acked(rig: Rig, dev: FakeDevice) -> None:
    out = rig.one(*dev.seal(dev.records(1, 3)))
    assert out.status is Status.STORED
    assert out.stored == (1, 2, 3) and out.acked and out.ack_ok == (1, 2, 3) and out.held == ()
    assert rig.store.record_ids("sim-001") == [1, 2, 3]
    assert rig.reasons() == []


def test_bodies_are_encrypted_at_rest_and_open_with_the_data_key(rig: Rig, dev: FakeDevice) -> None:
    rig.one(*dev.seal([Record(7, sim_body(7, note="synthetic patient"), NOW_MS)]))
    [(msg_id, schema_id, key_id, nonce, sealed)] = rig.store.sealed_records("sim-001")
    assert (msg_id, schema_id) == (7, "sim/1")
    assert b"synthetic patient" not in sealed
    plain = rig.cipher.open(key_id, nonce, sealed, b"rec/sim-001/7")
    assert cbor2.loads(plain) == sim_body(7, note="synthetic patient")


def test_forged_tag_is_quarantined(rig: Rig, dev: FakeDevice) -> None:
    where, payload = dev.seal(dev.records(1, 1))
    forged = payload[:-1] + bytes([payload[-1] ^ 0x01])
    out = rig.one(where, forged)
    assert (out.status, out.reason) == (Status.QUARANTINED, Reason.AUTH_FAILED)
    assert rig.reasons() == [Reason.AUTH_FAILED]
    assert rig.store.record_count() == 0


def test_tampered_protected_header_is_quarantined(rig: Rig, dev: FakeDevice) -> None:
    where, payload = dev.seal(dev.records(1, 1))
    obj = cbor2.loads(payload)
    protected = cbor2.loads(obj.value[0])
    protected[cose.H_SCHEMA] = "state/1"  # claim another schema without the key
    obj.value[0] = cbor2.dumps(protected, canonical=True)
    out = rig.one(where, cbor2.dumps(obj))
    assert out.reason == Reason.AUTH_FAILED
    assert rig.reasons() == [Reason.AUTH_FAILED]


def test_tampered_ciphertext_byte_is_quarantined(rig: Rig, dev: FakeDevice) -> None:
    where, payload = dev.seal(dev.records(1, 1))
    mid = len(payload) - 12
    out = rig.one(where, payload[:mid] + bytes([payload[mid] ^ 0x80]) + payload[mid + 1:])
    assert out.reason == Reason.AUTH_FAILED


def test_wrong_key_is_quarantined(rig: Rig, dev: FakeDevice) -> None:
    out = rig.one(*dev.seal(dev.records(1, 1), key=DirectionKey.generate()))
    assert out.reason == Reason.AUTH_FAILED
    assert rig.reasons() == [Reason.AUTH_FAILED]


def test_message_moved_to_another_topic_does_not_open(rig: Rig, dev: FakeDevice) -> None:
    _, payload = dev.seal(dev.records(1, 1))
    out = rig.one(topic("sim-001", Kind.CTG), payload)
    assert out.reason == Reason.AUTH_FAILED


def test_replayed_counter_is_quarantined(rig: Rig, dev: FakeDevice) -> None:
    where, payload = dev.seal(dev.records(1, 2))
    assert rig.one(where, payload).status is Status.STORED
    out = rig.one(where, payload)
    assert (out.status, out.reason, out.acked) == (Status.QUARANTINED, Reason.REPLAY, False)
    assert rig.reasons() == [Reason.REPLAY]
    assert rig.store.record_count() == 2


def test_replay_of_other_records_under_a_used_counter_is_quarantined(rig: Rig, dev: FakeDevice) -> None:
    rig.one(*dev.seal(dev.records(1, 1), counter=5))
    out = rig.one(*dev.seal(dev.records(2, 1), counter=5))
    assert out.reason == Reason.REPLAY
    assert rig.store.record_ids("sim-001") == [1]


def test_stale_counter_below_the_window_is_quarantined(rig: Rig, dev: FakeDevice) -> None:
    rig.one(*dev.seal(dev.records(1, 1), counter=5000))
    out = rig.one(*dev.seal(dev.records(2, 1), counter=5000 - 1024))
    assert (out.status, out.reason) == (Status.QUARANTINED, Reason.STALE_COUNTER)
    assert rig.reasons() == [Reason.STALE_COUNTER]


def test_out_of_order_counters_within_the_window_are_accepted(rig: Rig, dev: FakeDevice) -> None:
    rig.one(*dev.seal(dev.records(1, 1), counter=10))
    assert rig.one(*dev.seal(dev.records(2, 1), counter=9)).status is Status.STORED
    assert rig.one(*dev.seal(dev.records(3, 1), counter=9)).reason == Reason.REPLAY


def test_device_speaking_for_another_is_quarantined(rig: Rig, dev: FakeDevice) -> None:
    # sim-001's own key and kid, published on sim-002's topic
    out = rig.one(*dev.seal(dev.records(1, 1), on_topic=topic("sim-002", Kind.RECORDS)))
    assert (out.reason, out.device_id) == (Reason.KID_MISMATCH, "sim-002")
    # sim-002's kid claimed on sim-002's topic, but sealed with sim-001's key
    out = rig.one(*dev.seal(dev.records(1, 1), as_device="sim-002", on_topic=topic("sim-002", Kind.RECORDS)))
    assert out.reason == Reason.AUTH_FAILED
    assert sorted(rig.reasons()) == [Reason.AUTH_FAILED, Reason.KID_MISMATCH]
    assert rig.store.record_count() == 0


def test_unknown_device_is_quarantined(rig: Rig) -> None:
    stranger = FakeDevice(entry("sim-404"))
    out = rig.one(*stranger.seal(stranger.records(1, 1)))
    assert (out.reason, out.device_id) == (Reason.UNKNOWN_DEVICE, "sim-404")
    assert rig.reasons() == [Reason.UNKNOWN_DEVICE]


def test_revoked_device_is_quarantined(rig: Rig) -> None:
    revoked = FakeDevice(rig.registry["sim-999"])
    out = rig.one(*revoked.seal(revoked.records(1, 1)))
    assert out.reason == Reason.REVOKED_DEVICE
    assert rig.reasons() == [Reason.REVOKED_DEVICE]
    assert rig.store.record_count() == 0


def test_schema_invalid_record_is_held_and_acked_as_held(rig: Rig, dev: FakeDevice) -> None:
    bad = Record(2, {"seq": 2, "fhr_bpm": [400], "toco": []}, NOW_MS)
    out = rig.one(*dev.seal([Record(1, sim_body(1), NOW_MS), bad, Record(3, sim_body(3), NOW_MS)]))
    assert out.status is Status.STORED
    assert (out.stored, out.held, out.held_reasons) == ((1, 3), (2,), (Reason.SCHEMA_INVALID,))
    assert out.acked
    [row] = rig.store.quarantine_rows()
    assert (row.reason, row.device_id, row.msg_id) == (Reason.SCHEMA_INVALID, "sim-001", 2)
    assert "sim/1" in row.detail


def test_unknown_schema_is_held(rig: Rig, dev: FakeDevice) -> None:
    out = rig.one(*dev.seal(dev.records(1, 2), schema="nosuch/1"))
    assert (out.status, out.held, out.acked) == (Status.HELD, (1, 2), True)
    assert rig.reasons() == [Reason.UNKNOWN_SCHEMA]  # one row per envelope, holding both records


def test_state_schema_on_a_records_topic_is_held(rig: Rig, dev: FakeDevice) -> None:
    body = {"event": "birth", "bdseq": 0, "seq": 0}
    out = rig.one(*dev.seal([Record(1, body, NOW_MS)], Kind.RECORDS, "state/1"))
    assert out.held_reasons == (Reason.WRONG_TOPIC_KIND,)


def test_record_on_the_state_topic_is_quarantined(rig: Rig, dev: FakeDevice) -> None:
    out = rig.one(*dev.seal(dev.records(1, 1), Kind.STATE, "sim/1"))
    assert (out.status, out.reason) == (Status.QUARANTINED, Reason.WRONG_TOPIC_KIND)


def test_malformed_cbor_is_quarantined(rig: Rig) -> None:
    out = rig.one(topic("sim-001", Kind.RECORDS), b"\xff\x00 not cbor")
    assert (out.status, out.reason, out.device_id) == (Status.QUARANTINED, Reason.MALFORMED, "sim-001")
    [row] = rig.store.quarantine_rows()
    assert row.topic == "mch/v1/sim-001/rec"


def test_bad_topic_is_quarantined(rig: Rig, dev: FakeDevice) -> None:
    _, payload = dev.seal(dev.records(1, 1))
    assert rig.one("mch/v1/sim-001/rec/extra", payload).reason == Reason.BAD_TOPIC
    assert rig.one("mch/v1/sim-001/ack", payload).reason == Reason.BAD_TOPIC
    assert rig.one("mch/v1/sim-001/req", payload).reason == Reason.BAD_TOPIC  # a request is never a record


def test_oversized_payload_is_quarantined(rig: Rig) -> None:
    out = rig.one(topic("sim-001", Kind.RECORDS), bytes(2 << 20))
    assert out.reason == Reason.TOO_LARGE


def test_resend_under_fresh_counter_is_reacked_not_restored(rig: Rig, dev: FakeDevice) -> None:
    assert rig.one(*dev.seal(dev.records(1, 3))).status is Status.STORED
    out = rig.one(*dev.seal(dev.records(1, 3)))  # ack was lost: the device seals again
    assert (out.status, out.stored, out.duplicates, out.acked) == (Status.DUPLICATE, (), (1, 2, 3), True)
    assert rig.store.record_count() == 3
    assert rig.reasons() == []


def test_resend_with_some_new_records_stores_only_the_new(rig: Rig, dev: FakeDevice) -> None:
    rig.one(*dev.seal(dev.records(1, 2)))
    out = rig.one(*dev.seal(dev.records(1, 4)))
    assert (out.stored, out.duplicates) == ((3, 4), (1, 2))
    assert rig.store.record_ids("sim-001") == [1, 2, 3, 4]


def test_broker_redelivery_of_a_stored_envelope_is_reacked(rig: Rig, dev: FakeDevice) -> None:
    where, payload = dev.seal(dev.records(1, 2))
    rig.one(where, payload)
    out = rig.one(where, payload, dup=True)
    assert (out.status, out.duplicates, out.acked) == (Status.REDELIVERED, (1, 2), True)
    assert rig.store.record_count() == 2
    assert rig.reasons() == []


def test_redelivery_reports_held_records_as_held(rig: Rig, dev: FakeDevice) -> None:
    where, payload = dev.seal([Record(1, sim_body(1), NOW_MS), Record(2, {"nope": 1}, NOW_MS)])
    rig.one(where, payload)
    out = rig.one(where, payload, dup=True)
    assert (out.duplicates, out.held) == ((1,), (2,))


def test_dup_flag_on_a_different_envelope_under_a_used_counter_is_a_replay(rig: Rig, dev: FakeDevice) -> None:
    rig.one(*dev.seal(dev.records(1, 1), counter=3))
    out = rig.one(*dev.seal(dev.records(2, 1), counter=3), dup=True)
    assert out.reason == Reason.REPLAY


def test_first_delivery_with_dup_set_is_processed_normally(rig: Rig, dev: FakeDevice) -> None:
    # the hub crashed before committing: the broker redelivers with DUP, the counter is still fresh
    out = rig.one(*dev.seal(dev.records(1, 2)), dup=True)
    assert out.status is Status.STORED and out.stored == (1, 2)


def test_identical_rejections_are_counted_not_repeated(rig: Rig) -> None:
    for _ in range(3):
        rig.one(topic("sim-001", Kind.RECORDS), b"garbage")
    [row] = rig.store.quarantine_rows()
    assert (row.reason, row.seen) == (Reason.MALFORMED, 3)
    assert rig.store.quarantine_counts() == {Reason.MALFORMED: 3}


def test_quarantined_payload_is_sealed_and_recoverable(rig: Rig) -> None:
    rig.one(topic("sim-001", Kind.RECORDS), b"synthetic secret")
    [row] = rig.store.quarantine_rows()
    found = rig.store.quarantine_payload(row.id)
    assert found is not None
    fingerprint, key_id, nonce, sealed = found
    assert b"synthetic secret" not in sealed
    assert rig.cipher.open(key_id, nonce, sealed, f"quarantine/{fingerprint}".encode()) == b"synthetic secret"


def test_data_from_a_device_without_birth_asks_for_rebirth_once(rig: Rig, dev: FakeDevice) -> None:
    first = rig.one(*dev.seal(dev.records(1, 1)))
    second = rig.one(*dev.seal(dev.records(2, 1)), at_ms=NOW_MS + 1000)
    assert (first.rebirth, second.rebirth) == (True, False)


def test_an_alarm_on_the_ctg_topic_is_held_not_stored(rig: Rig, dev: FakeDevice) -> None:
    """Kind and schema are bound: an alarm/1 on the ctg topic would be stored where nothing treats it
    as an alarm."""
    alarm = {"alarm_id": "a1", "bed": "B01", "episode_id": 1, "event": "raised", "kind": "bradycardia",
             "at_ms": NOW_MS}
    out = rig.one(*dev.seal([Record(1, alarm, NOW_MS)], Kind.CTG, "alarm/1"))
    assert (out.status, out.held_reasons) == (Status.HELD, (Reason.WRONG_TOPIC_KIND,))
    assert rig.store.record_count() == 0
    assert rig.one(*dev.seal([Record(2, alarm, NOW_MS)], Kind.ALARMS, "alarm/1")).stored == (2,)
