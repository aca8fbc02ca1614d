"""Scenario 8 end to end: the broker and a hub worker run on their deploy views alone."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from mch_link.sitefiles import broker_view, hub_view
from mqtt_broker_config import render
from mqtt_broker_config.errors import BrokerConfigError
from mqtt_broker_config.launcher import BrokerProcess, free_port
from provisioning.site import Site
from tests.central_hub.rawdevice import RawDevice
from tests.central_hub.test_worker import Sealer
from tests.support.broker import start_broker
from tests.support.hub import HubFactory, wait_for_records

pytestmark = pytest.mark.integration

WAIT_S = 20.0


def test_broker_given_the_whole_site_reads_only_its_view(site: Site) -> None:
    run_dir = Path(tempfile.mkdtemp(prefix="mch-broker-"))
    try:
        assert BrokerProcess(site.path, run_dir, free_port()).site_dir == broker_view(site.path)
        with pytest.raises(BrokerConfigError, match=r"holds ca/issuing.key.json.*deploy/broker"):
            render.render_acl(site.path)  # the renderer never reads a whole site
        shutil.rmtree(site.path / "deploy")  # a site of an earlier release
        with pytest.raises(BrokerConfigError, match="mch-provision migrate"):
            BrokerProcess(site.path, run_dir, free_port())
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def test_broker_and_hub_on_their_views(site: Site, hub_factory: HubFactory, tmp_path: Path) -> None:
    broker_dir = tmp_path / "broker-machine"
    shutil.copytree(broker_view(site.path), broker_dir)  # what the technician copies to each machine
    bundle = site.enroll("sim-001").bundle  # the hub's view gets the registry entry
    broker = start_broker(broker_dir)
    try:
        hub = hub_factory(hub_view(site.path, "hub"), broker=broker)
        dev = RawDevice(bundle, broker.host, broker.port)
        try:
            sealer = Sealer(bundle)
            dev.publish(*sealer.records(1, 3)).wait_for_publish(WAIT_S)
            assert wait_for_records(hub.db_url, 3, WAIT_S, "sim-001") == 3
            assert dev.wait_for(lambda: dev.acked_ids() == {1, 2, 3}, WAIT_S)
        finally:
            dev.close()
        for path in (broker_dir, hub_view(site.path, "hub")):
            assert not list(path.rglob("*.key.json")) and not list(path.rglob("device.key.pem"))
        assert not list(broker_dir.rglob("registry"))
    finally:
        broker.stop()
        shutil.rmtree(broker.run_dir, ignore_errors=True)
