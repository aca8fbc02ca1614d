"""Batch-level behaviour: a handler bug or a store refusal costs one message, never the batch."""

from __future__ import annotations

import json
from dataclasses import replace
from importlib import resources
from typing import Any

import pytest

from central_hub import handler as handler_module
from central_hub.errors import StoreError
from central_hub.outcome import Reason, Status
from central_hub.store import Store
from tests.central_hub.helpers import FakeDevice, Rig, entry, inbound


@pytest.fixture
def rig(store: Store) -> Rig:
    return Rig(store, [entry("sim-001")])


def test_a_handler_bug_is_quarantined_as_internal_error(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(schema_id: str, body: Any) -> None:
        raise KeyError("bug")

    monkeypatch.setattr(handler_module.schemas, "validate", broken)
    dev = FakeDevice(rig.registry["sim-001"])
    out = rig.one(*dev.seal(dev.records(1, 2)))
    assert (out.status, out.reason, out.acked) == (Status.QUARANTINED, Reason.INTERNAL_ERROR, False)
    assert rig.reasons() == [Reason.INTERNAL_ERROR]


def test_a_store_refusal_is_isolated_to_its_message(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    dev = FakeDevice(rig.registry["sim-001"])
    good1, bad, good2 = dev.seal(dev.records(1, 2)), dev.seal(dev.records(3, 2)), dev.seal(dev.records(5, 2))
    real = rig.handler._records

    def refuse_bad(state: Any, msg: Any, *rest: Any) -> Any:
        if msg.payload == bad[1]:
            raise StoreError("value out of range")
        return real(state, msg, *rest)

    monkeypatch.setattr(rig.handler, "_records", refuse_bad)
    outs = rig.ingestor.process([inbound(*good1), inbound(*bad), inbound(*good2)])
    assert [o.status for o in outs] == [Status.STORED, Status.QUARANTINED, Status.STORED]
    assert outs[1].reason == Reason.STORE_ERROR
    assert rig.store.record_ids("sim-001") == [1, 2, 5, 6]
    assert rig.reasons() == [Reason.STORE_ERROR]
    assert rig.ingestor.stats.get("store_refused_batches") == 1


def test_stats_count_outcomes(rig: Rig) -> None:
    dev = FakeDevice(rig.registry["sim-001"])
    rig.ingestor.process([inbound(*dev.seal(dev.records(1, 3))), inbound("mch/v1/sim-001/rec", b"x")])
    snap = rig.ingestor.stats.snapshot()
    assert snap["records_stored"] == 3 and snap["quarantined_malformed"] == 1 and snap["messages"] == 2


def test_a_value_the_database_cannot_hold_costs_only_its_message(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """sqlite3 raises OverflowError (not a sqlite3.Error) for an integer past 64 bits, and only in the
    flush: it must become a StoreError, so the batch is split and the one message quarantined alone."""
    dev = FakeDevice(rig.registry["sim-001"])
    good1, bad, good2 = dev.seal(dev.records(1, 2)), dev.seal(dev.records(3, 2)), dev.seal(dev.records(5, 2))
    real = rig.handler._records

    def poison_fleet(state: Any, msg: Any, *rest: Any) -> Any:
        out = real(state, msg, *rest)
        if msg.payload == bad[1]:  # as if a schema had let the value through to a column
            state.put_fleet(replace(state.fleet("sim-001"), queue_depth=2**63))
        return out

    monkeypatch.setattr(rig.handler, "_records", poison_fleet)
    outs = rig.ingestor.process([inbound(*good1), inbound(*bad), inbound(*good2)])
    assert [o.status for o in outs] == [Status.STORED, Status.QUARANTINED, Status.STORED]
    assert outs[1].reason == Reason.STORE_ERROR
    assert rig.store.record_ids("sim-001") == [1, 2, 5, 6]
    [row] = rig.store.quarantine_rows()
    assert row.reason == Reason.STORE_ERROR
    assert "OverflowError" in row.detail or "out of range" in row.detail  # sqlite3's, or PostgreSQL's own error


def test_every_integer_of_every_schema_has_a_maximum_a_bigint_holds() -> None:
    """What reaches a column (state/1's queue_depth) or a report must fit a signed 64-bit integer."""
    def integers(node: Any, where: str) -> list[tuple[str, Any]]:
        found = []
        if isinstance(node, dict):
            if node.get("type") == "integer" or "integer" in (node.get("type") or []):
                found.append((where, node.get("maximum")))
            for k, v in node.items():
                found += integers(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                found += integers(v, f"{where}/{i}")
        return found

    files = sorted((resources.files("mch_link") / "schemas").iterdir(), key=lambda p: p.name)
    assert files
    for path in files:
        for where, maximum in integers(json.loads(path.read_text()), path.name):
            assert isinstance(maximum, int) and maximum < 2**63, f"{where}: maximum {maximum!r}"
