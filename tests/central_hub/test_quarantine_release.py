"""Releasing held records from quarantine (SQLite and PostgreSQL): re-checked against today's schema,
stored once through the ingest transaction (and so queued for the county feed), audited, refused
with a reason when they still fail or when the item is not held records, refused the second time."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import cbor2
import pytest

from central_hub import cli
from central_hub.audit import AuditLog
from central_hub.datakey import load_or_create
from central_hub.quarantine_admin import QuarantineAdmin, ReleaseRefused
from central_hub.store import Store
from central_hub.store.model import record_aad
from mch_link import schemas
from mch_link.envelope import Record
from mch_link.topics import Kind
from tests.central_hub.feed import records as fed
from tests.central_hub.helpers import NOW_MS, FakeDevice, Rig, entry, inbound

BOOKING = "antenatal-booking/1"  # fed to the county: a released booking must reach the feed outbox


@pytest.fixture
def rig(store: Store) -> Rig:
    return Rig(store, [entry("kiosk-001")])


@pytest.fixture
def admin(rig: Rig) -> QuarantineAdmin:
    return QuarantineAdmin(rig.store, AuditLog(rig.store), lambda: rig.cipher)


def booking(n: int) -> dict[str, Any]:
    return fed.booking(random.Random(n), n)


def send(rig: Rig, dev: FakeDevice, recs: list[Record], schema: str = BOOKING) -> Any:
    return rig.one(*dev.seal(recs, Kind.RECORDS, schema))


def hold_as_unknown_schema(rig: Rig, monkeypatch: pytest.MonkeyPatch, recs: list[Record]) -> int:
    """A hub that did not know BOOKING yet (the kiosk was updated first) holds them as unknown-schema."""
    real_known = schemas.known
    with monkeypatch.context() as m:
        m.setattr(schemas, "known", lambda schema_id: schema_id != BOOKING and real_known(schema_id))
        send(rig, FakeDevice(rig.registry["kiosk-001"]), recs)
    (row,) = rig.store.quarantine_rows()
    assert row.reason == "unknown-schema"
    return row.id


def stored_bodies(rig: Rig, device_id: str = "kiosk-001") -> dict[int, Any]:
    return {msg_id: cbor2.loads(rig.cipher.open(key_id, nonce, body, record_aad(device_id, msg_id)))
            for msg_id, _, key_id, nonce, body in rig.store.sealed_records(device_id)}


def feed_rows(store: Store) -> list[tuple[int, str, str]]:
    return [(int(r[0]), r[1], r[2]) for r in store.read(
        "SELECT msg_id, schema_id, status FROM feed_outbox WHERE device_id = 'kiosk-001' ORDER BY msg_id")]


def test_held_records_keep_their_schema_id(rig: Rig) -> None:
    dev = FakeDevice(rig.registry["kiosk-001"])
    bad = {**booking(1), "ga_days": "ten weeks"}  # not an integer: schema-invalid
    send(rig, dev, [Record(7, bad, NOW_MS)])
    (row,) = QuarantineAdmin(rig.store, AuditLog(rig.store)).items()
    assert (row.reason, row.msg_id, row.schema_id) == ("schema-invalid", 7, BOOKING)


def test_release_stores_once_feeds_the_county_and_is_audited(rig: Rig, admin: QuarantineAdmin,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    bodies = {11: booking(11), 12: booking(12)}
    item = hold_as_unknown_schema(rig, monkeypatch, [Record(i, b, NOW_MS + i) for i, b in bodies.items()])
    assert rig.store.record_count() == 0 and feed_rows(rig.store) == []

    released = admin.release("alice", item)

    assert (released.stored, released.already) == ((11, 12), ())
    assert stored_bodies(rig) == bodies
    assert feed_rows(rig.store) == [(11, BOOKING, "pending"), (12, BOOKING, "pending")]
    assert rig.store.quarantine_rows() == []
    audit = AuditLog(rig.store)
    (entry_,) = audit.entries(action="quarantine-release")
    assert (entry_.actor, entry_.target) == ("alice", f"quarantine/{item}")
    assert '"stored":[11,12]' in entry_.detail
    assert audit.verify().ok

    with pytest.raises(ReleaseRefused, match="released or purged already"):
        admin.release("alice", item)
    assert rig.store.record_count() == 2 and len(feed_rows(rig.store)) == 2
    assert [e.action for e in audit.entries()][:2] == ["quarantine-release-refused", "quarantine-release"]


def test_records_that_still_fail_are_refused_and_kept(rig: Rig, admin: QuarantineAdmin) -> None:
    dev = FakeDevice(rig.registry["kiosk-001"])
    send(rig, dev, [Record(5, booking(5), NOW_MS), Record(6, {**booking(6), "risk_colour": "blue"}, NOW_MS)])
    assert rig.store.record_count() == 1  # the good one was stored at once; record 6 is held
    (row,) = rig.store.quarantine_rows()

    with pytest.raises(ReleaseRefused, match="record 6 still fails: schema-invalid: antenatal-booking/1: "
                                             "/risk_colour violates"):
        admin.release("olga", row.id)
    assert [r.id for r in rig.store.quarantine_rows()] == [row.id]
    assert rig.store.record_ids("kiosk-001") == [5]
    (refusal,) = AuditLog(rig.store).entries(action="quarantine-release-refused")
    assert "still fails" in refusal.detail and "blue" not in refusal.detail  # a reason, never a value


def test_a_whole_message_refused_unopened_is_never_released(rig: Rig, admin: QuarantineAdmin) -> None:
    rig.ingestor.process([inbound("mch/v1/kiosk-001/rec", b"\xa1not cose")])
    (row,) = rig.store.quarantine_rows()
    with pytest.raises(ReleaseRefused, match="only be purged"):
        admin.release("alice", row.id)
    assert len(rig.store.quarantine_rows()) == 1


def test_records_the_device_sent_again_meanwhile_count_as_already_stored(
        rig: Rig, admin: QuarantineAdmin, monkeypatch: pytest.MonkeyPatch) -> None:
    body = booking(21)
    item = hold_as_unknown_schema(rig, monkeypatch, [Record(21, body, NOW_MS)])
    send(rig, FakeDevice(rig.registry["kiosk-001"], counter=100), [Record(21, body, NOW_MS)])  # after the upgrade
    assert rig.store.record_ids("kiosk-001") == [21]

    released = admin.release("alice", item)
    assert (released.stored, released.already) == ((), (21,))
    assert rig.store.record_ids("kiosk-001") == [21] and len(feed_rows(rig.store)) == 1
    assert rig.store.quarantine_rows() == []


def test_an_id_stored_with_other_content_is_refused(rig: Rig, admin: QuarantineAdmin,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    item = hold_as_unknown_schema(rig, monkeypatch, [Record(31, booking(31), NOW_MS)])
    send(rig, FakeDevice(rig.registry["kiosk-001"], counter=100), [Record(31, booking(32), NOW_MS)])
    with pytest.raises(ReleaseRefused, match="id-reused: record id 31 is stored with other content"):
        admin.release("alice", item)
    assert stored_bodies(rig) == {31: booking(32)}
    assert [r.id for r in rig.store.quarantine_rows()] == [item]  # rolled back: still there


def test_rows_held_before_schema_ids_were_kept_are_refused(rig: Rig, admin: QuarantineAdmin,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    item = hold_as_unknown_schema(rig, monkeypatch, [Record(41, booking(41), NOW_MS)])
    with rig.store.write():  # as a database migrated from before the column existed
        rig.store.execute("UPDATE quarantine SET schema_id = NULL WHERE id = ?", (item,))
    with pytest.raises(ReleaseRefused, match="held before this hub kept schema ids"):
        admin.release("alice", item)


def test_without_the_data_key_a_release_is_refused(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    item = hold_as_unknown_schema(rig, monkeypatch, [Record(51, booking(51), NOW_MS)])
    with pytest.raises(ReleaseRefused, match="no hub data key"):
        QuarantineAdmin(rig.store, AuditLog(rig.store)).release("alice", item)
    assert rig.store.record_count() == 0


def test_the_cli_releases_once_then_exits_1_with_the_reason(rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    rig.cipher = rig.handler.cipher = load_or_create(tmp_path / "state")  # the hub's key file, as a hub has it
    item = hold_as_unknown_schema(rig, monkeypatch, [Record(61, booking(61), NOW_MS), Record(62, booking(62), NOW_MS)])
    argv = ["quarantine-release", str(item), "--db", rig.store.url, "--state-dir", str(tmp_path / "state")]

    assert cli.main(argv) == cli.EXIT_OK
    assert f"quarantine item #{item} released: 2 record(s) stored" in capsys.readouterr().out
    assert rig.store.record_ids("kiosk-001") == [61, 62]
    assert cli.main(argv) == cli.EXIT_ERROR
    assert "released or purged already" in capsys.readouterr().err
    assert [e.actor for e in AuditLog(rig.store).entries()] == ["cli", "cli"]


def test_the_cli_refuses_to_release_a_whole_message_and_purges_it(rig: Rig, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    rig.ingestor.process([inbound("mch/v1/kiosk-001/rec", b"\xa1not cose")])
    (row,) = rig.store.quarantine_rows()
    assert cli.main(["quarantine-release", str(row.id), "--db", rig.store.url,
                     "--state-dir", str(tmp_path / "none")]) == cli.EXIT_ERROR
    assert "it can only be purged" in capsys.readouterr().err
    assert cli.main(["quarantine-purge", str(row.id), "--db", rig.store.url]) == cli.EXIT_OK
    assert rig.store.quarantine_rows() == []
