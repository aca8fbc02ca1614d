"""Quarantine quotas (issue 10, scenario 4): one envelope, one row; a device past its quota is
counted, not kept, and its held records are not acknowledged (they stay on the device)."""

from __future__ import annotations

import cbor2
import pytest

from central_hub.outcome import Reason, Status
from central_hub.store import Store
from central_hub.store.quarantine import RETENTION_MS, QuarantineQuota
from mch_link.envelope import Record
from tests.central_hub.helpers import NOW_MS, FakeDevice, Rig, entry, inbound, sim_body

EMPTY = {}  # sim/1 requires seq, fhr_bpm, toco: an empty body is schema-invalid


@pytest.fixture
def rig(store: Store) -> Rig:
    return Rig(store, [entry("sim-001"), entry("sim-002")])


def test_the_held_records_of_an_envelope_take_one_row(rig: Rig) -> None:
    dev = FakeDevice(rig.registry["sim-001"])
    for e in range(5):  # the review's case: 5 envelopes of 4,499 empty records once made 22,495 rows
        out = rig.one(*dev.seal([Record(e * 4499 + i, EMPTY, None) for i in range(4499)]))
        assert (out.status, len(out.held), out.acked) == (Status.HELD, 4499, True)
    rows = rig.store.quarantine_rows(limit=100)
    assert len(rows) == 5 and {r.reason for r in rows} == {Reason.SCHEMA_INVALID}
    assert "4499 record(s) held" in rows[0].detail
    fp, key_id, nonce, sealed = rig.store.quarantine_payload(rows[0].id)  # type: ignore[misc]
    held = cbor2.loads(rig.cipher.open(key_id, nonce, sealed, f"quarantine/{fp}".encode()))
    assert len(held) == 4499 and held[0]["b"] == EMPTY  # every held record is kept, in the one row


def test_past_its_quota_a_device_is_counted_not_kept_and_others_are_unaffected(rig: Rig) -> None:
    rig.store.quarantine_quota = QuarantineQuota(rows=3, bytes=1 << 20)
    dev, other = FakeDevice(rig.registry["sim-001"]), FakeDevice(rig.registry["sim-002"])
    outs = [rig.one("mch/v1/sim-001/rec", b"garbage %d" % i) for i in range(10)]
    assert all(o.status is Status.QUARANTINED for o in outs)
    assert len([q for q in rig.store.quarantine_rows() if q.device_id == "sim-001"]) == 3
    rig.one("mch/v1/sim-001/rec", b"garbage 0")  # identical to a kept one: only its count grows
    assert sum(q.seen for q in rig.store.quarantine_rows() if q.device_id == "sim-001") == 4
    mixed = rig.one(*dev.seal([Record(1, sim_body(1), NOW_MS), Record(2, EMPTY, NOW_MS)]))
    assert (mixed.status, mixed.stored, mixed.held, mixed.ack_ok) == (Status.STORED, (1,), (), (1,))  # 2 not acked
    only_held = rig.one(*dev.seal([Record(3, EMPTY, NOW_MS)]))
    assert (only_held.status, only_held.reason, only_held.acked) == (Status.QUARANTINED, Reason.QUARANTINE_FULL,
                                                                     False)
    [fault] = [f for f in rig.store.hub_faults() if f.source == "quarantine-quota" and "malformed" in f.detail]
    assert fault.subject == "sim-001" and "7 message(s)" in fault.detail  # 7 garbage, counted by reason
    held_fault = [f for f in rig.store.hub_faults() if "schema-invalid" in f.detail]
    assert held_fault and "2 message(s)" in held_fault[0].detail
    out = rig.one(*other.seal([Record(1, EMPTY, NOW_MS)]))  # another device still has its own quota
    assert (out.status, out.held) == (Status.HELD, (1,))


def test_a_low_disk_pauses_new_quarantine_rows(rig: Rig) -> None:
    rig.store.quarantine_paused = True
    out = rig.one("mch/v1/sim-001/rec", b"garbage")
    assert out.status is Status.QUARANTINED and rig.store.quarantine_rows() == []
    dev = FakeDevice(rig.registry["sim-001"])
    assert rig.one(*dev.seal(dev.records(1, 2))).stored == (1, 2)  # records are still stored


def test_retention_drops_rows_last_seen_long_ago(rig: Rig) -> None:
    rig.ingestor.process([inbound("mch/v1/sim-001/rec", b"old", at_ms=NOW_MS)])
    rig.ingestor.process([inbound("mch/v1/sim-001/rec", b"new", at_ms=NOW_MS + RETENTION_MS)])
    assert rig.store.prune_quarantine(NOW_MS + RETENTION_MS + 1) == 1
    assert [q.last_at_ms for q in rig.store.quarantine_rows()] == [NOW_MS + RETENTION_MS]
