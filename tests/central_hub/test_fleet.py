"""Fleet state: birth, death (bdseq must match), heartbeat seq, rebirth requests."""

from __future__ import annotations

import pytest

from central_hub.outcome import Reason, Status
from central_hub.store import Store
from mch_link.envelope import Record
from mch_link.topics import Kind
from tests.central_hub.helpers import NOW_MS, FakeDevice, Rig, entry


@pytest.fixture
def rig(store: Store) -> Rig:
    return Rig(store, [entry("sim-001")])


@pytest.fixture
def dev(rig: Rig) -> FakeDevice:
    return FakeDevice(rig.registry["sim-001"])


def fleet(rig: Rig) -> dict[str, object]:
    [row] = rig.store.fleet_rows()
    return {"online": row.online, "bdseq": row.bdseq, "seq": row.seq, "firmware": row.firmware,
            "queue": row.queue_depth}


def test_birth_heartbeat_death(rig: Rig, dev: FakeDevice) -> None:
    out = rig.one(*dev.state("birth", firmware="fw/1.2", kind="sim", queue_depth=3))
    assert (out.status, out.acked, out.rebirth) == (Status.STATE, False, False)
    assert fleet(rig) == {"online": True, "bdseq": 0, "seq": 0, "firmware": "fw/1.2", "queue": 3}
    assert rig.one(*dev.state("heartbeat", queue_depth=1)).rebirth is False
    assert fleet(rig)["queue"] == 1
    rig.one(*dev.state("death"))
    assert fleet(rig)["online"] is False


def test_stale_death_of_an_earlier_connection_is_ignored(rig: Rig, dev: FakeDevice) -> None:
    rig.one(*dev.state("birth"))
    old_will = dev.state("death")  # bdseq 0, sealed at the first connect
    dev.bdseq, dev.seq = 1, 0
    rig.one(*dev.state("birth"))
    rig.one(*old_will)
    assert fleet(rig)["online"] is True and fleet(rig)["bdseq"] == 1


def test_will_sealed_long_ago_below_the_window_still_counts(rig: Rig, dev: FakeDevice) -> None:
    will = dev.state("death")  # sealed before connecting, delivered much later
    rig.one(*dev.state("birth"))
    rig.one(*dev.seal(dev.records(1, 1), counter=dev.counter + 5000))
    out = rig.one(*will)
    assert out.status is Status.STATE
    assert fleet(rig)["online"] is False
    assert rig.reasons() == []


def test_a_replayed_heartbeat_is_quarantined(rig: Rig, dev: FakeDevice) -> None:
    rig.one(*dev.state("birth"))
    hb = dev.state("heartbeat")
    rig.one(*hb)
    assert rig.one(*hb).reason == Reason.REPLAY


def test_seq_gap_asks_for_rebirth_once_per_interval(rig: Rig, dev: FakeDevice) -> None:
    rig.one(*dev.state("birth"))
    dev.seq += 3  # three state messages lost
    assert rig.one(*dev.state("heartbeat")).rebirth is True
    dev.seq += 1
    assert rig.one(*dev.state("heartbeat"), at_ms=NOW_MS + 1000).rebirth is False  # rate-limited
    dev.seq += 1
    assert rig.one(*dev.state("heartbeat"), at_ms=NOW_MS + 60_000).rebirth is True


def test_seq_wraps_at_256(rig: Rig, dev: FakeDevice) -> None:
    dev.seq = 255
    rig.one(*dev.state("birth"))
    assert fleet(rig)["seq"] == 255
    assert rig.one(*dev.state("heartbeat")).rebirth is False
    assert fleet(rig)["seq"] == 0


def test_heartbeat_without_birth_asks_for_rebirth(rig: Rig, dev: FakeDevice) -> None:
    assert rig.one(*dev.state("heartbeat")).rebirth is True


def test_rebirth_request_is_a_sealed_cmd(rig: Rig, dev: FakeDevice) -> None:
    from mch_link import envelope

    out = rig.one(*dev.state("heartbeat"))
    [down] = rig.ingestor.downlinks([out])
    assert down.topic == "mch/v1/sim-001/cmd"
    opened = envelope.open_envelope(down.payload, dev.entry.keys.downlink, down.topic)
    assert (opened.schema, opened.records[0].body) == ("cmd/1", {"command": "rebirth"})


def test_invalid_state_record_is_held(rig: Rig, dev: FakeDevice) -> None:
    out = rig.one(*dev.seal([Record(0, {"event": "explode", "bdseq": 0, "seq": 0}, NOW_MS)], Kind.STATE, "state/1"))
    assert (out.status, out.held_reasons) == (Status.STATE, (Reason.SCHEMA_INVALID,))
    assert rig.reasons() == [Reason.SCHEMA_INVALID]


def test_records_count_per_device(rig: Rig, dev: FakeDevice) -> None:
    rig.one(*dev.seal(dev.records(1, 5)))
    rig.one(*dev.seal(dev.records(1, 7)))
    [row] = rig.store.fleet_rows()
    assert row.records_stored == 7
