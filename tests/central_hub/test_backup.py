"""mch-hub backup / restore: every record, the fleet, the replay windows and the feed outbox come back;
the keys stay apart; devices carry on without nonce reuse or lost records."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from central_hub import backup, datakey
from central_hub.feed import outbox
from central_hub.outcome import Reason, Status
from central_hub.store import Store, open_store
from mch_link.device import DeviceConfig, DeviceLink
from mch_link.envelope import Record
from mch_link.keys import KEYS_FILE, LinkKeys
from mch_link.outbox import Outbox
from mch_link.topics import Kind, topic
from tests.central_hub.feed import records as fed
from tests.central_hub.helpers import NOW_MS, FakeDevice, Rig, entry, sim_body
from tests.support.hub import hub_site

TABLE_KEYS = {"records": "device_id, msg_id", "envelopes": "device_id, counter", "windows": "device_id",
              "quarantine": "fingerprint", "fleet": "device_id", "downlink": "device_id",
              "feed_outbox": "device_id, msg_id"}


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for table, order in TABLE_KEYS.items():
        rows = store._read(f"SELECT * FROM {table} ORDER BY {order}")
        out[table] = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows]
    return out


def populate(rig: Rig, dev: FakeDevice) -> None:
    rig.one(*dev.state("birth", firmware="fw/1"))
    for first in (1, 51, 101):
        rig.one(*dev.seal(dev.records(first, 50)))
    rng = random.Random(3)
    preg = [Record(200 + i, fed.booking(rng, i), NOW_MS) for i in range(1, 4)]
    assert rig.one(*dev.seal(preg, schema="antenatal-booking/1")).status is Status.STORED
    rig.one(*dev.seal(dev.records(1, 1), counter=0))  # a replay: quarantined
    rig.ingestor.downlinks(rig.ingestor.process([]))
    rig.store.reserve_downlink(dev.device_id, 1024)
    outbox.save(rig.store, [outbox.Result(outbox.head(rig.store, 1)[0].id, outbox.DEAD, 1, error="HTTP 422: x")])


def lose_the_database(url: str) -> None:
    """The disk is gone: nothing of the old database remains."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    _, schema = backup._pg_parts(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_everything_comes_back_and_devices_carry_on(hub_db_url: str, tmp_path: Path) -> None:
    store = open_store(hub_db_url)
    dev = FakeDevice(entry("sim-001"))
    rig = Rig(store, [dev.entry])
    populate(rig, dev)
    state, keys, out = tmp_path / "state", tmp_path / "usb-stick", tmp_path / "backup"
    state.mkdir()
    datakey._write(state / datakey.KEY_FILE, rig.cipher)
    before = snapshot(store)
    assert len(before["records"]) == 153 and before["quarantine"] and before["feed_outbox"]
    manifest = backup.backup(hub_db_url, state, out, keys)
    assert manifest.counts == {t: len(rows) for t, rows in before.items()}
    key_bytes = bytes.fromhex(next(iter(rig.cipher.keys.values())).hex())
    for f in out.iterdir():  # no key material in the backup
        assert key_bytes not in f.read_bytes() and key_bytes.hex().encode() not in f.read_bytes()
    # after the backup the hub goes on acknowledging (downlink counters used), then the disk dies
    used_after_backup = store.reserve_downlink(dev.device_id, 4096) + 4095
    store.close()
    lose_the_database(hub_db_url)
    (state / datakey.KEY_FILE).unlink()

    new_state = tmp_path / "new-state"
    with pytest.raises(backup.BackupError, match="no data key"):
        backup.restore(out, hub_db_url, new_state, None)
    backup.restore(out, hub_db_url, new_state, keys)
    assert datakey.load(new_state / datakey.KEY_FILE).keys == rig.cipher.keys
    restored = open_store(hub_db_url)
    after = snapshot(restored)
    for table in TABLE_KEYS:
        if table != "downlink":
            assert after[table] == before[table], table
    (dl_before,), (dl_after,) = before["downlink"], after["downlink"]
    assert dl_after[1] == dl_before[1] + backup.RESTORE_DOWNLINK_SKIP > used_after_backup
    assert outbox.dead_letters(restored)[0].error == "HTTP 422: x"

    # the device carries on: old envelopes are still replays, new records are stored, nothing lost
    rig2 = Rig(restored, [dev.entry])
    rig2.cipher = rig.cipher
    rig2.handler.cipher = rig.cipher
    assert rig2.one(topic(dev.device_id, Kind.RECORDS), dev.sent[2]).reason == Reason.REPLAY
    assert rig2.one(*dev.seal(dev.records(151, 10))).status is Status.STORED
    assert restored.record_count() == 163
    first_new = restored.reserve_downlink(dev.device_id, 1)
    assert first_new > used_after_backup  # no downlink nonce is ever sealed twice
    restored.close()


def test_restore_refuses_what_would_lose_or_mix_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    store = open_store(url)
    fed.commit(store, datakey.DataCipher.generate(), [("kiosk-001", 1, "delivery/1", fed.delivery(1))])
    store.close()
    state = tmp_path / "state"
    cipher = datakey.load_or_create(state)
    with pytest.raises(backup.BackupError, match="must not be inside"):
        backup.backup(url, state, tmp_path / "b", tmp_path / "b" / "keys")
    backup.backup(url, state, tmp_path / "b", tmp_path / "keys")
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.backup(url, state, tmp_path / "b", None)
    with pytest.raises(backup.BackupError, match="exists"):
        backup.restore(tmp_path / "b", url, state, None)
    other = tmp_path / "other-keys"
    other.mkdir()
    datakey._write(other / datakey.KEY_FILE, datakey.DataCipher.generate())
    with pytest.raises(backup.BackupError, match="not the data key of this backup"):
        backup.restore(tmp_path / "b", f"sqlite:///{tmp_path / 'new.db'}", tmp_path / "s2", other)
    data = tmp_path / "b" / backup.SQLITE_FILE
    damaged = bytearray(data.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    data.write_bytes(bytes(damaged))
    with pytest.raises(backup.BackupError, match="SHA-256"):
        backup.restore(tmp_path / "b", f"sqlite:///{tmp_path / 'new.db'}", state, None)
    assert datakey.load(state / datakey.KEY_FILE).keys == cipher.keys


def test_cli_backup_and_restore(site: Any, tmp_path: Path) -> None:
    state = hub_site(site.path) / "hub" / "state"
    db = f"sqlite:///{state / 'hub.db'}"
    store = open_store(db)
    fed.commit(store, datakey.load_or_create(state), [("kiosk-001", 1, "delivery/1", fed.delivery(1))])
    store.close()

    def hub(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "central_hub.cli", *args], capture_output=True, text=True,
                              timeout=60)

    r = hub("backup", "--site", str(hub_site(site.path)), "--out", str(tmp_path / "b"), "--key-out", str(tmp_path / "k"))
    assert r.returncode == 0, r.stderr
    assert "keys copied to" in r.stdout and oct((tmp_path / "k" / datakey.KEY_FILE).stat().st_mode)[-3:] == "600"
    r = hub("restore", "--site", str(hub_site(site.path)), "--from", str(tmp_path / "b"))
    assert r.returncode == 1 and "exists" in r.stderr
    r = hub("restore", "--site", str(hub_site(site.path)), "--from", str(tmp_path / "b"), "--state-dir", str(tmp_path / "s"),
            "--key", str(tmp_path / "k"), "--db", f"sqlite:///{tmp_path / 'r.db'}")
    assert r.returncode == 0, r.stderr
    assert "'records': 1" in r.stdout and "'feed_outbox': 1" in r.stdout
    assert hub("backup", "--site", str(hub_site(site.path))).returncode == 2


@pytest.mark.integration
def test_a_hub_restored_on_a_new_disk_takes_over_its_devices(site: Any, broker: Any, enroll_device: Any,
                                                             hub_factory: Any, tmp_path: Path) -> None:
    """Real broker, hub and DeviceLink: back up, lose the disk while the device keeps recording,
    restore elsewhere, start the hub there: everything stored once, no downlink counter reused."""
    bundle = enroll_device("sim-001")
    old_state = tmp_path / "old-state"
    hub = hub_factory(site.path, state_dir=old_state, broker=broker)
    config = DeviceConfig("sim-001", "sim", broker.host, broker.port, bundle / "ca.pem", bundle / "device.crt.pem",
                          bundle / "device.key.pem")
    link = DeviceLink(config, LinkKeys.read(bundle / KEYS_FILE), Outbox(tmp_path / "outbox.db"), heartbeat_s=1.0)
    link.start()
    try:
        link.submit_many(Kind.RECORDS, "sim/1", [sim_body(i) for i in range(100)])
        link.submit_many(Kind.RECORDS, "antenatal-booking/1", [fed.booking(random.Random(i), i) for i in range(3)])
        assert link.wait_drained(60)
        hub.stop()
        old = open_store(hub.db_url)
        (reserved_at_stop,) = [int(r[0]) for r in old._read("SELECT reserved FROM downlink")]
        old.close()
        r = subprocess.run([sys.executable, "-m", "central_hub.cli", "backup", "--site", str(hub_site(site.path)), "--db",
                            hub.db_url, "--state-dir", str(old_state), "--out", str(tmp_path / "backup"),
                            "--key-out", str(tmp_path / "keys")], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        link.submit_many(Kind.RECORDS, "sim/1", [sim_body(i) for i in range(100, 150)])  # hub down: queued
        shutil.rmtree(old_state)  # the disk is gone
        new_state, new_db = tmp_path / "new-state", f"sqlite:///{tmp_path / 'new-state' / 'hub.db'}"
        r = subprocess.run([sys.executable, "-m", "central_hub.cli", "restore", "--site", str(hub_site(site.path)), "--db",
                            new_db, "--state-dir", str(new_state), "--from", str(tmp_path / "backup"), "--key",
                            str(tmp_path / "keys")], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        hub_factory(site.path, db_url=new_db, state_dir=new_state, broker=broker)
        link.submit_many(Kind.RECORDS, "sim/1", [sim_body(i) for i in range(150, 200)])
        assert link.wait_drained(60), "the device did not get its acknowledgements from the restored hub"
    finally:
        link.stop()
    store = open_store(new_db)
    try:
        assert store.record_ids("sim-001") == list(range(1, 204))
        assert store.quarantine_counts() == {}
        assert len(outbox.head(store, 100)) == 3
        (reserved,) = [int(r[0]) for r in store._read("SELECT reserved FROM downlink")]
        assert reserved > reserved_at_stop + backup.RESTORE_DOWNLINK_SKIP - 1024  # counters moved past all used
    finally:
        store.close()
