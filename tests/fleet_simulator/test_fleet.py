"""The simulated fleet through the real broker and hub, and its command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fleet_simulator.fleet import SCHEMA, Fleet, sim_record
from mch_link import schemas
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.site import Site
from tests.support.hub import HubFactory, count_records


def test_sim_records_conform_to_their_schema() -> None:
    for seq in range(0, 5000, 37):
        schemas.validate(SCHEMA, sim_record(seq))


@pytest.mark.integration
def test_fleet_records_all_reach_the_hub(site: Site, enroll_device, broker: BrokerProcess,
                                         hub_factory: HubFactory, tmp_path: Path) -> None:
    bundles = [enroll_device(f"sim-{i:03d}") for i in range(3)]
    hub = hub_factory(site.path, extra_args=("--broker", f"{broker.host}:{broker.port}"))
    fleet = Fleet(bundles, tmp_path / "fleet", broker=(broker.host, broker.port))
    fleet.start()
    try:
        produced = fleet.produce(40) + fleet.run_rate(200, 1.0)
        assert fleet.wait_drained(30)
    finally:
        fleet.stop()
    assert count_records(hub.db_url) == produced
    assert all(count_records(hub.db_url, f"sim-{i:03d}") >= 40 for i in range(3))


def test_cli_refuses_a_bad_broker_address(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "fleet_simulator", "--bundle", str(tmp_path), "--broker", "nope"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "HOST:PORT" in out.stderr


def test_cli_reports_a_missing_bundle(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "fleet_simulator", "--bundle", str(tmp_path / "none"),
                          "--state-dir", str(tmp_path / "s")], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "config.json" in out.stderr
