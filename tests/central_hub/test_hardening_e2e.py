"""Issue 10 (part A) through the real broker and `mch-hub run`: one bad or hostile enrolled
device must never stop, blind or flood ingest for the others."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import cbor2
import pytest

from central_hub import report
from central_hub.directory import RELOAD_INTERVAL_S
from central_hub.store.model import FleetRow
from central_hub.store.quarantine import QuarantineQuota
from mch_link import cose, envelope
from mch_link.device import DeviceLink
from mch_link.envelope import Record
from mch_link.keys import KEYS_FILE, LinkKeys
from mch_link.registry import DeviceStatus, load_entry, write_entry
from mch_link.topics import Kind, topic
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.site import Site
from tests.central_hub.helpers import NOW_MS, sim_body
from tests.central_hub.rawdevice import RawDevice
from tests.support.hub import HubFactory, hub_site, wait_for_records

pytestmark = pytest.mark.integration

WAIT_S = 20.0


class Sealer:
    def __init__(self, bundle: Path) -> None:
        self.keys = LinkKeys.read(bundle / KEYS_FILE)
        self.counter = 0

    def seal(self, kind: Kind, schema: str, records: list[Record]) -> tuple[str, bytes]:
        where = topic(self.keys.device_id, kind)
        self.counter += 1
        return where, envelope.seal(self.keys.uplink, self.keys.device_id, where, self.counter, schema, records,
                                    NOW_MS)

    def state(self, **body: Any) -> tuple[str, bytes]:
        return self.seal(Kind.STATE, "state/1", [Record(0, body, NOW_MS)])


def test_poison_integer_in_a_heartbeat_stops_nobody(site: Site, broker: BrokerProcess, enroll_device,
                                                     hub_factory: HubFactory) -> None:
    """Scenario 1: queue_depth = 2**63 once made sqlite3 raise OverflowError in the flush, the batch was
    never acknowledged and the broker redelivered it forever: nothing more was stored for anyone."""
    bad_bundle, good_bundle = enroll_device("sim-201"), enroll_device("sim-202")
    hub = hub_factory(site.path, broker=broker, extra_args=("--batch-ms", "200"))
    bad, good = RawDevice(bad_bundle, broker.host, broker.port), RawDevice(good_bundle, broker.host, broker.port)
    bad_sealer, good_sealer = Sealer(bad_bundle), Sealer(good_bundle)
    try:
        bad.publish(*bad_sealer.state(event="birth", bdseq=0, seq=0)).wait_for_publish(WAIT_S)
        bad.publish(*bad_sealer.state(event="heartbeat", bdseq=0, seq=1, queue_depth=2**63)).wait_for_publish(WAIT_S)
        for i in range(1, 6):
            good.publish(*good_sealer.seal(Kind.RECORDS, "sim/1", [Record(i, sim_body(i), NOW_MS)]))
            bad.publish(*bad_sealer.seal(Kind.RECORDS, "sim/1", [Record(i, sim_body(i), NOW_MS)]))
        assert wait_for_records(hub.db_url, 5, WAIT_S, "sim-202") == 5
        assert wait_for_records(hub.db_url, 5, WAIT_S, "sim-201") == 5
        assert good.wait_for(lambda: good.acked_ids() == {1, 2, 3, 4, 5}, WAIT_S)
        store = hub.store()
        try:
            held = [q for q in store.quarantine_rows() if q.device_id == "sim-201"]
            fleet = {r.device_id: r for r in store.fleet_rows()}
        finally:
            store.close()
        assert [q.reason for q in held] == ["schema-invalid"], held
        assert "queue_depth" in held[0].detail
        assert fleet["sim-201"].queue_depth is None  # the poison never reached the column
    finally:
        bad.close()
        good.close()


def _decimal_fraction_bomb(size: int) -> bytes:
    """Tag 4 (decimal fraction) around a bignum: cbor2 builds a Decimal from it in quadratic time."""
    return cbor2.dumps(cbor2.CBORTag(4, [-5, cbor2.CBORTag(2, b"\x7f" * size)]))


def test_hostile_cbor_costs_the_hub_nothing_before_or_after_decryption(site: Site, broker: BrokerProcess,
                                                                       enroll_device, hub_factory: HubFactory) -> None:
    """Scenario 2: a 1 MiB payload of semantic tags once held every commit for ~90 s before any key check."""
    bad_bundle, good_bundle = enroll_device("sim-211"), enroll_device("sim-212")
    hub = hub_factory(site.path, broker=broker, extra_args=("--batch-ms", "200"))
    bad, good = RawDevice(bad_bundle, broker.host, broker.port), RawDevice(good_bundle, broker.host, broker.port)
    bad_keys, good_sealer = LinkKeys.read(bad_bundle / KEYS_FILE), Sealer(good_bundle)
    where = topic("sim-211", Kind.RECORDS)
    protected = {cose.H_ALG: cose.ALG_AES_CCM_16_64_128, cose.H_CONTENT_TYPE: envelope.CONTENT_TYPE,
                 cose.H_KID: b"sim-211", cose.H_PARTIAL_IV: cose.encode_partial_iv(7), cose.H_SCHEMA: "sim/1"}
    authentic_bomb = cose.encrypt0(bad_keys.uplink.key, bad_keys.uplink.base_iv, protected,
                                   _decimal_fraction_bomb(60 << 10), where.encode())
    try:
        bad.publish(where, _decimal_fraction_bomb(1000 << 10)).wait_for_publish(WAIT_S)  # before any key check
        bad.publish(where, authentic_bomb).wait_for_publish(WAIT_S)  # sealed by the enrolled device itself
        for i in range(1, 4):
            good.publish(*good_sealer.seal(Kind.RECORDS, "sim/1", [Record(i, sim_body(i), NOW_MS)]))
        assert wait_for_records(hub.db_url, 3, WAIT_S, "sim-212") == 3
        assert good.wait_for(lambda: good.acked_ids() == {1, 2, 3}, WAIT_S)
        store = hub.store()
        try:
            held = sorted((q.reason, q.detail) for q in store.quarantine_rows() if q.topic == where)
        finally:
            store.close()
        assert len(held) == 2, held
        assert all(reason == "malformed" and "tag 4 is not allowed" in detail for reason, detail in held), held
    finally:
        bad.close()
        good.close()


def test_a_bad_registry_file_costs_only_its_device_and_revocation_still_works(
        site: Site, broker: BrokerProcess, enroll_device, hub_factory: HubFactory) -> None:
    """Scenario 5: one unparsable `*.json` in the registry made the whole reload fail: a revoked device
    stayed active, and a cold-started hub knew no device at all."""
    bundles = {d: enroll_device(d) for d in ("sim-221", "sim-222", "sim-223")}
    hub = hub_factory(site.path, broker=broker, extra_args=("--batch-ms", "100"))
    view = hub_site(site.path)  # the registry the hub reads
    registry = view / "registry"
    (registry / "._sim-221.json").write_bytes(b"\x00\x05\x16\x07Mac OS X        ")  # AppleDouble litter
    half = registry / "sim-222.json"
    half.write_text(half.read_text()[:200])  # a half-copied file
    write_entry(view, replace(load_entry(view, "sim-221"), status=DeviceStatus.REVOKED))
    time.sleep(RELOAD_INTERVAL_S + 0.5)
    devices = {d: RawDevice(b, broker.host, broker.port) for d, b in bundles.items()}
    sealers = {d: Sealer(b) for d, b in bundles.items()}
    try:
        for d in devices:
            devices[d].publish(*sealers[d].seal(Kind.RECORDS, "sim/1", [Record(1, sim_body(1), NOW_MS)]))
        assert wait_for_records(hub.db_url, 1, WAIT_S, "sim-223") == 1
        assert _quarantined(hub, 2) == {"sim-221": ["revoked-device"], "sim-222": ["registry-unreadable"]}

        hub.restart()  # a cold start with the bad files still there knows every readable device
        devices["sim-223"].publish(*sealers["sim-223"].seal(Kind.RECORDS, "sim/1", [Record(2, sim_body(2), NOW_MS)]))
        assert wait_for_records(hub.db_url, 2, WAIT_S, "sim-223") == 2
        store = hub.store()
        try:
            faults = {(f.source, f.subject): f.detail for f in store.hub_faults()}
            assert store.record_ids("sim-221") == [] and store.record_ids("sim-222") == []
        finally:
            store.close()
        assert set(faults) == {("registry", "._sim-221.json"), ("registry", "sim-222.json")}
        assert "malformed" in faults[("registry", "sim-222.json")]
        status = subprocess.run([sys.executable, "-m", "central_hub.cli", "status", "--site", str(view),
                                 "--db", hub.db_url], capture_output=True, text=True, timeout=30)
        assert status.returncode == 0, status.stderr
        assert "._sim-221.json" in status.stdout and "sim-222.json" in status.stdout
        assert "registry file sim-222.json" in hub.log_text()
    finally:
        for dev in devices.values():
            dev.close()


def _quarantined(hub: Any, n: int) -> dict[str, list[str]]:
    deadline = time.monotonic() + WAIT_S
    while True:
        store = hub.store()
        try:
            rows = store.quarantine_rows()
        finally:
            store.close()
        if len(rows) >= n or time.monotonic() > deadline:
            out: dict[str, list[str]] = {}
            for q in rows:
                out.setdefault(q.device_id or "?", []).append(q.reason)
            return out
        time.sleep(0.1)


def test_device_supplied_text_reaches_the_operator_terminal_escaped() -> None:
    """A `firmware` string with an ESC sequence once went raw to `mch-hub status` (it can clear the screen,
    retitle the terminal, or hide a line); every table cell is printed with controls escaped."""
    row = FleetRow("sim-231", firmware="fw\x1b[2J\x1b]0;pwned\x07\u202egnp.exe", kind="sim")
    text = report.fleet_table([row], {}, NOW_MS)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "fw\\x1b[2J\\x1b]0;pwned\\x07\\u202egnp.exe" in text


def test_quarantine_is_bounded_per_device(site: Site, broker: BrokerProcess, enroll_device,
                                          hub_factory: HubFactory) -> None:
    """Scenario 4: every schema-invalid record of an authentic envelope took a row (5 envelopes of 4,499
    empty records = 22,495 rows) and every distinct garbage payload another, until the disk was full."""
    bad_bundle, good_bundle = enroll_device("sim-241"), enroll_device("sim-242")
    hub = hub_factory(site.path, broker=broker)
    bad, good = RawDevice(bad_bundle, broker.host, broker.port), RawDevice(good_bundle, broker.host, broker.port)
    bad_sealer, good_sealer = Sealer(bad_bundle), Sealer(good_bundle)
    quota = QuarantineQuota().rows
    try:
        for e in range(5):
            bad.publish(*bad_sealer.seal(Kind.RECORDS, "sim/1", [Record(e * 4499 + i, {}, None) for i in range(4499)]))
        assert bad.wait_for(lambda: len(bad.held_ids()) == 5 * 4499, WAIT_S)
        garbage = [bad.publish(topic("sim-241", Kind.RECORDS), b"garbage %d" % i) for i in range(quota + 50)]
        for info in garbage:
            info.wait_for_publish(WAIT_S)
        good.publish(*good_sealer.seal(Kind.RECORDS, "sim/1", [Record(1, sim_body(1), NOW_MS)]))
        assert wait_for_records(hub.db_url, 1, WAIT_S, "sim-242") == 1
        deadline = time.monotonic() + WAIT_S
        while True:
            store = hub.store()
            try:
                faults = [f for f in store.hub_faults() if f.source == "quarantine-quota"]
                kept = len([q for q in store.quarantine_rows(limit=100_000) if q.device_id == "sim-241"])
            finally:
                store.close()
            if faults and "55 message(s)" in faults[0].detail or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert kept == quota
        assert [f.subject for f in faults] == ["sim-241"] and "55 message(s)" in faults[0].detail, faults
    finally:
        bad.close()
        good.close()


def test_a_device_whose_outbox_is_restored_from_a_backup_loses_nothing(
        site: Site, broker: BrokerProcess, enroll_device, hub_factory: HubFactory, tmp_path: Path) -> None:
    """Scenario 3: an outbox restored from a backup hands out record ids again; the hub used to
    acknowledge the new records as duplicates of the old ones without storing them."""
    bundle = enroll_device("sim-251")
    hub = hub_factory(site.path, broker=broker)
    outbox_path, backup = tmp_path / "outbox.db", tmp_path / "outbox-backup.db"

    def run_link(bodies: list[dict[str, Any]], before_start: Any = None) -> list[int]:
        link = DeviceLink.from_bundle(bundle, outbox_path, (broker.host, broker.port))
        try:
            if before_start:
                before_start()
            ids = link.submit_many(Kind.CTG, "sim/1", bodies)
            link.start()
            assert link.wait_drained(WAIT_S), "the device never got its acknowledgements"
            return ids
        finally:
            link.stop()
            link.outbox.close()

    assert run_link([sim_body(i) for i in range(1, 6)]) == [1, 2, 3, 4, 5]
    shutil.copy(outbox_path, backup)  # the nightly backup: records 1-5 acknowledged, next id 6
    assert run_link([sim_body(i) for i in range(6, 11)]) == [6, 7, 8, 9, 10]
    shutil.copy(backup, outbox_path)  # the disk is replaced and the backup restored
    for suffix in ("-wal", "-shm"):
        Path(f"{outbox_path}{suffix}").unlink(missing_ok=True)
    new_bodies = [sim_body(1000 + i) for i in range(3)]
    assert run_link(new_bodies) == [6, 7, 8]  # the same ids once more, for new records
    assert run_link([sim_body(2000), sim_body(2001)]) == [11, 12]  # the ack's floor moved the ids on
    store = hub.store()
    try:
        assert store.record_ids("sim-251") == list(range(1, 13))
        held = [q for q in store.quarantine_rows() if q.device_id == "sim-251"]
        faults = [f for f in store.hub_faults() if f.source == "device-reset"]
    finally:
        store.close()
    assert [q.reason for q in held] == ["id-reused"] and "6..8" in held[0].detail  # the new records, kept
    assert [f.subject for f in faults] == ["sim-251"] and "device reset detected" in faults[0].detail
