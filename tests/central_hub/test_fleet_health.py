"""Fleet state beyond Sparkplug: presence expiry, faults, outbox age, alarm summary, history."""

from __future__ import annotations

import json

import pytest

from central_hub import fleet
from central_hub.fleet import Presence, presence
from central_hub.store import Store
from central_hub.store.model import FleetRow
from tests.central_hub.helpers import NOW_MS, FakeDevice, Rig, entry

PAPER_OUT = {"code": "paper-out", "severity": "warning", "since_ms": NOW_MS - 5000, "detail": "receipt printer"}
PINPAD = {"code": "pinpad-tamper", "severity": "critical"}


@pytest.fixture
def rig(store: Store) -> Rig:
    return Rig(store, [entry("kiosk-001")])


@pytest.fixture
def dev(rig: Rig) -> FakeDevice:
    return FakeDevice(rig.registry["kiosk-001"])


def row(rig: Rig) -> FleetRow:
    [r] = rig.store.fleet_rows()
    return r


def events(rig: Rig) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in rig.store.read("SELECT event, detail FROM fleet_events ORDER BY id")]


def test_online_expires_after_three_declared_heartbeats_without_one(rig: Rig, dev: FakeDevice) -> None:
    rig.one(*dev.state("birth", heartbeat_s=10))
    r = row(rig)
    assert presence(r, NOW_MS + 30_000) is Presence.ONLINE
    assert presence(r, NOW_MS + 30_001) is Presence.SILENT
    rig.one(*dev.state("heartbeat"), at_ms=NOW_MS + 25_000)
    assert presence(row(rig), NOW_MS + 50_000) is Presence.ONLINE
    assert presence(row(rig), NOW_MS + 55_001) is Presence.SILENT


def test_data_alone_does_not_keep_a_device_online(rig: Rig, dev: FakeDevice) -> None:
    rig.one(*dev.state("birth", heartbeat_s=10))
    rig.one(*dev.seal(dev.records(1, 1)), at_ms=NOW_MS + 29_000)
    r = row(rig)
    assert r.last_seen_ms == NOW_MS + 29_000
    assert presence(r, NOW_MS + 31_000) is Presence.SILENT


def test_a_heartbeat_after_a_death_does_not_bring_it_back(rig: Rig, dev: FakeDevice) -> None:
    rig.one(*dev.state("birth"))
    rig.one(*dev.state("death"), at_ms=NOW_MS + 1000)
    out = rig.one(*dev.state("heartbeat"), at_ms=NOW_MS + 2000)
    assert out.rebirth is True
    assert presence(row(rig), NOW_MS + 3000) is Presence.OFFLINE


def test_never_seen_and_default_interval() -> None:
    assert presence(None, NOW_MS) is Presence.NEVER_SEEN
    r = FleetRow("kiosk-001", online=True, last_seen_ms=NOW_MS, state_at_ms=NOW_MS)
    assert fleet.expires_at_ms(r) == NOW_MS + 3 * fleet.DEFAULT_HEARTBEAT_S * 1000


def test_faults_outbox_age_and_alarms_are_kept_and_make_history(rig: Rig, dev: FakeDevice) -> None:
    rig.one(*dev.state("birth", firmware="k/1", faults=[], oldest_record_age_s=0))
    rig.one(*dev.state("heartbeat", faults=[PAPER_OUT], oldest_record_age_s=42, queue_depth=7), at_ms=NOW_MS + 1)
    r = row(rig)
    assert (r.queue_depth, r.oldest_record_age_s) == (7, 42)
    assert [f["code"] for f in fleet.faults_of(r)] == ["paper-out"]
    rig.one(*dev.state("heartbeat", faults=[PINPAD]), at_ms=NOW_MS + 2)
    rig.one(*dev.state("heartbeat", faults=[PINPAD], alarms={"beds_in_alarm": 2, "highest": "high"}),
            at_ms=NOW_MS + 3)
    assert (row(rig).alarm_beds, row(rig).alarm_highest) == (2, "high")
    assert events(rig) == [
        ("online", "birth bdseq 0, firmware k/1"),
        ("fault-raised", "paper-out (warning): receipt printer"),
        ("fault-raised", "pinpad-tamper (critical)"),
        ("fault-cleared", "paper-out"),
        ("alarms", "2 beds in alarm, highest high"),
    ]


def test_a_heartbeat_without_a_fault_list_keeps_the_last_one(rig: Rig, dev: FakeDevice) -> None:
    rig.one(*dev.state("birth", faults=[PINPAD]))
    rig.one(*dev.state("heartbeat"), at_ms=NOW_MS + 1)
    assert json.loads(row(rig).faults or "[]")[0]["code"] == "pinpad-tamper"


def test_a_malformed_fault_is_held_not_applied(rig: Rig, dev: FakeDevice) -> None:
    rig.one(*dev.state("birth"))
    out = rig.one(*dev.state("heartbeat", faults=[{"code": "Bad Code!", "severity": "warning"}]))
    assert out.held_reasons == ("schema-invalid",)
    assert row(rig).faults is None


def test_death_and_firmware_change_are_history(rig: Rig, dev: FakeDevice) -> None:
    rig.one(*dev.state("birth", firmware="k/1"))
    rig.one(*dev.state("death"), at_ms=NOW_MS + 1)
    dev.bdseq, dev.seq = 1, 0
    rig.one(*dev.state("birth", firmware="k/2"), at_ms=NOW_MS + 2)
    assert [e for e, _ in events(rig)] == ["online", "offline", "online", "firmware"]
    assert events(rig)[-1] == ("firmware", "k/1 -> k/2")
