"""Scenario 3 at the hub: a device whose outbox was lost or restored starts a new boot epoch with
old counters and old record ids. The hub must neither quarantine its new records as replays nor
acknowledge them as duplicates of different records, and must say "device reset detected"."""

from __future__ import annotations

from pathlib import Path

import cbor2
import pytest

from central_hub.directory import Directory
from central_hub.downlink import DownlinkCounters, DownlinkSealer
from central_hub.outcome import Reason, Status
from central_hub.store import Store, open_store
from mch_link import envelope
from mch_link.envelope import Record
from tests.central_hub.helpers import NOW_MS, FakeDevice, Rig, entry, sim_body

E1, E2, E3 = bytes.fromhex("1111111111111111"), bytes.fromhex("2222222222222222"), bytes.fromhex("3333333333333333")


@pytest.fixture
def rig(store: Store) -> Rig:
    return Rig(store, [entry("sim-001")])


def _resets(rig: Rig) -> list[str]:
    return [f.detail for f in rig.store.hub_faults() if f.source == "device-reset" and f.subject == "sim-001"]


def test_a_restored_outbox_loses_nothing_and_is_reported(rig: Rig) -> None:
    dev = FakeDevice(rig.registry["sim-001"], epoch=E1)
    first = [dev.seal([Record(i, sim_body(i), NOW_MS)]) for i in (1, 2, 3)]
    assert [rig.one(*m).status for m in first] == [Status.STORED] * 3
    restored = FakeDevice(rig.registry["sim-001"], epoch=E2)  # counter back at 0, ids 2 and 3 handed out again
    out = rig.one(*restored.seal([Record(2, sim_body(2), NOW_MS), Record(3, sim_body(99), NOW_MS),
                                  Record(4, sim_body(4), NOW_MS)]))
    assert (out.status, out.stored, out.duplicates, out.held) == (Status.STORED, (4,), (2,), (3,))
    assert out.held_reasons == (Reason.ID_REUSED,) and out.acked
    assert out.floor == 4  # in the ack: the device's next ids go above what the hub holds
    [ack] = rig.ingestor.downlinks([out])
    body = envelope.open_envelope(ack.payload, rig.registry["sim-001"].keys.downlink, ack.topic).records[0].body
    assert body == {"ok": [2, 4], "held": [3], "floor": 4}
    assert rig.store.record_ids("sim-001") == [1, 2, 3, 4]
    assert [q.reason for q in rig.store.quarantine_rows()] == [Reason.ID_REUSED]  # record 3's new content is kept
    [detail] = _resets(rig)
    assert "device reset detected" in detail
    again = rig.one(*first[0])  # an envelope of the epoch the device left behind
    assert (again.status, again.reason) == (Status.QUARANTINED, Reason.STALE_EPOCH)
    assert rig.one(*restored.seal([Record(5, sim_body(5), NOW_MS)])).stored == (5,)  # the new epoch goes on


def test_an_ordinary_restart_is_a_new_epoch_but_no_reset(rig: Rig) -> None:
    dev = FakeDevice(rig.registry["sim-001"], epoch=E1)
    assert rig.one(*dev.seal([Record(1, sim_body(1), NOW_MS)])).stored == (1,)
    rebooted = FakeDevice(rig.registry["sim-001"], epoch=E2, counter=dev.counter + 1024)  # persisted counter
    assert rig.one(*rebooted.seal([Record(2, sim_body(2), NOW_MS)])).stored == (2,)
    assert _resets(rig) == [] and rig.reasons() == []


def test_a_late_last_will_of_an_old_epoch_is_no_quarantine(rig: Rig) -> None:
    old = FakeDevice(rig.registry["sim-001"], epoch=E1)
    will = old.state("death")
    rig.one(*old.state("birth"))
    new = FakeDevice(rig.registry["sim-001"], epoch=E3, counter=5000, bdseq=1)
    assert rig.one(*new.state("birth")).status is Status.STATE
    assert rig.one(*will).status is Status.STATE  # applied and ignored: its bdseq is not the current one
    assert rig.reasons() == []
    assert [r.online for r in rig.store.fleet_rows()] == [True]


def _partial_iv(payload: bytes) -> bytes:
    """The Partial IV (header 6) from the protected bucket, read apart from mch_link's decoder."""
    value = cbor2.loads(payload)
    assert isinstance(value, cbor2.CBORTag) and value.tag == 16  # COSE_Encrypt0
    return bytes(cbor2.loads(value.value[0])[6])


def test_two_hub_stores_never_seal_the_same_downlink_nonce(store: Store, tmp_path: Path) -> None:
    """A recreated hub database, or two workers not sharing one, reserve the same downlink counters
    again: the sealer's boot epoch must still keep every nonce under the device's key new."""
    device = entry("sim-001")
    directory = Directory.from_entries({"sim-001": device})
    other = open_store(f"sqlite:///{tmp_path / 'recreated.db'}")
    try:
        acks = [DownlinkSealer(directory, DownlinkCounters(s, 4)).acks("sim-001", [1, 2], [])[0]
                for s in (store, other)]
    finally:
        other.close()
    pivs = [_partial_iv(a.payload) for a in acks]
    assert all(len(p) == 13 for p in pivs)  # epoch (8 bytes) || counter (5 bytes)
    assert pivs[0][8:] == pivs[1][8:]  # the same counter from both fresh stores ...
    assert pivs[0][:8] != pivs[1][:8]  # ... under two epochs
    base_iv = int.from_bytes(device.keys.downlink.base_iv, "big")
    nonces = [(base_iv ^ int.from_bytes(p, "big")).to_bytes(13, "big") for p in pivs]
    assert nonces[0] != nonces[1]
    for ack in acks:  # the device opens both, as DeviceLink does
        opened = envelope.open_envelope(ack.payload, device.keys.downlink, ack.topic)
        assert opened.records[0].body == {"ok": [1, 2], "held": []}
