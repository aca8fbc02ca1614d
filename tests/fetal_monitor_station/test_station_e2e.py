"""End to end: simulated monitors -> station process -> real Mosquitto -> real hub store.

Every test compares the record ids the station ever committed to its outbox (AUTOINCREMENT:
1..max) with the ids the hub stored: nothing lost, nothing stored twice.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mch_link.device import DeviceLink
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.site import Site
from tests.fetal_monitor_station.helpers import wait_for
from tests.support.hub import HubFactory, HubProcess, wait_for_records
from tests.support.processes import terminate

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLI = [sys.executable, "-m", "fetal_monitor_station.cli"]
DEVICE = "station-01"


def _simulators(tmp_path: Path, speed: float) -> Iterator[dict[str, str]]:
    proc = subprocess.Popen([*CLI, "simulate", "--beds", "2", "--dir", str(tmp_path / "tty"), "--json",
                             "--speed", str(speed)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield json.loads(proc.stdout.readline())
    finally:
        terminate(proc, 20)


@pytest.fixture
def sims(tmp_path: Path) -> Iterator[dict[str, str]]:
    yield from _simulators(tmp_path, 1.0)


@pytest.fixture
def fast_sims(tmp_path: Path) -> Iterator[dict[str, str]]:
    yield from _simulators(tmp_path, 120.0)


def _config(tmp_path: Path, urls: dict[str, str], bundle: Path, broker: BrokerProcess, speed: float = 1.0) -> Path:
    beds = "".join(f'[[beds]]\nid = "{b}"\nurl = "{u}"\n' for b, u in urls.items())
    cfg = tmp_path / "station.toml"
    cfg.write_text(f'station_id = "{DEVICE}"\narchive = "archive.sqlite3"\nclock_speed = {speed}\n'
                   f'[link]\nbundle = "{bundle}"\noutbox = "outbox.sqlite3"\nbroker = "{broker.host}:{broker.port}"\n'
                   f"{beds}")
    return cfg


def _committed_ids(outbox: Path) -> list[int]:
    db = sqlite3.connect(outbox)
    try:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
    finally:
        db.close()
    return list(range(1, int(row[0]) + 1)) if row else []


def _drain(bundle: Path, outbox: Path, broker: BrokerProcess) -> None:
    """What a restarted station does first: the same outbox, the same device, drained."""
    link = DeviceLink.from_bundle(bundle, outbox, broker=(broker.host, broker.port))
    link.start()
    try:
        assert link.wait_drained(90), f"outbox still holds {link.depth()} records"
    finally:
        link.stop()


def _stored(hub: HubProcess) -> list[int]:
    store = hub.store()
    try:
        return store.record_ids(DEVICE)
    finally:
        store.close()


def test_station_sigkilled_and_restarted_loses_and_duplicates_nothing(
        site: Site, enroll_device, broker: BrokerProcess, hub_factory: HubFactory,  # noqa: ANN001
        sims: dict[str, str], tmp_path: Path) -> None:
    bundle = enroll_device(DEVICE, "station")
    hub = hub_factory(site.path, broker=broker)
    cfg = _config(tmp_path, sims, bundle, broker)
    station = subprocess.Popen([*CLI, "run", "--config", str(cfg), "--no-view"], text=True)
    try:
        assert wait_for_records(hub.db_url, 4, 60, DEVICE) >= 4  # episodes + first CTG batches
        station.send_signal(signal.SIGKILL)
        assert station.wait(10) == -signal.SIGKILL
    finally:
        terminate(station, 20)
    again = subprocess.run([*CLI, "run", "--config", str(cfg), "--no-view", "--duration", "12"],
                           capture_output=True, text=True, timeout=90)
    assert again.returncode == 0, again.stderr
    _drain(bundle, tmp_path / "outbox.sqlite3", broker)
    committed = _committed_ids(tmp_path / "outbox.sqlite3")
    stored = _stored(hub)
    assert len(stored) == len(set(stored)), "a record was stored twice"
    assert sorted(stored) == committed, f"missing at the hub: {sorted(set(committed) - set(stored))[:10]}"


def test_hub_down_for_an_hour_of_ctg_loses_nothing(
        site: Site, enroll_device, broker: BrokerProcess, hub_factory: HubFactory,  # noqa: ANN001
        fast_sims: dict[str, str], tmp_path: Path) -> None:
    """Station clock and simulators at x120: about 30 s of wall time is one hour of CTG per bed."""
    bundle = enroll_device(DEVICE, "station")
    hub = hub_factory(site.path, broker=broker)
    cfg = _config(tmp_path, fast_sims, bundle, broker, speed=120.0)
    station = subprocess.Popen([*CLI, "run", "--config", str(cfg), "--no-view"], text=True)
    try:
        assert wait_for_records(hub.db_url, 2, 60, DEVICE) >= 2
        hub.stop()
        outage_start = len(_committed_ids(tmp_path / "outbox.sqlite3"))
        hour = 2 * 3600 // 10  # ten-second CTG batches of two beds in one hour
        assert wait_for(lambda: len(_committed_ids(tmp_path / "outbox.sqlite3")) - outage_start >= hour, 120.0), \
            "the station did not record an hour of CTG while the hub was down"
        hub.start()
        time.sleep(2.0)
    finally:
        terminate(station, 20)
    assert station.returncode == 0
    _drain(bundle, tmp_path / "outbox.sqlite3", broker)
    committed = _committed_ids(tmp_path / "outbox.sqlite3")
    stored = _stored(hub)
    assert len(stored) == len(set(stored))
    assert sorted(stored) == committed
