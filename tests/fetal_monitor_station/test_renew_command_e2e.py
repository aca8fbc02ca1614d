"""Issue 16: the hub's `renew` command (what the dashboard sends) reaches a running `mch-station
run` through the real broker, and the station asks for a new certificate over the link: its CSR
lands in the hub's renewal queue, for the technician to sign."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from central_hub.audit import AuditLog
from central_hub.command_link import CommandLink
from central_hub.commands import Commands, CommandState
from central_hub.directory import Directory
from central_hub.renewal import CSR_SUFFIX, renewals_dir
from central_hub.store import open_store
from mch_link.registry import hub_identity
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.site import Site
from tests.central_hub.test_commands_e2e import DASHBOARD_HUB_ID, WAIT_S, dash_broker, wait_for  # noqa: F401
from tests.support.hub import HubFactory, hub_site
from tests.support.processes import terminate

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLI = [sys.executable, "-m", "fetal_monitor_station.cli"]


def test_the_hubs_renew_command_makes_a_running_station_ask(site: Site, dash_broker: BrokerProcess,  # noqa: F811
                                                           enroll_device, hub_factory: HubFactory,  # noqa: ANN001
                                                           tmp_path: Path) -> None:
    bundle = enroll_device("station-01", "station")
    hub = hub_factory(site.path, broker=dash_broker)
    cfg = tmp_path / "station.toml"
    cfg.write_text('station_id = "station-01"\narchive = "archive.sqlite3"\n'
                   f'[link]\nbundle = "{bundle}"\noutbox = "outbox.sqlite3"\n'
                   f'broker = "{dash_broker.host}:{dash_broker.port}"\nheartbeat_s = 1\n'
                   f'[[beds]]\nid = "bed-01"\nurl = "{tmp_path / "no-monitor"}"\n')
    station = subprocess.Popen([*CLI, "run", "--config", str(cfg), "--no-view"], stderr=subprocess.PIPE, text=True)
    store = open_store(hub.db_url)
    sender = CommandLink(hub_identity(site.path, DASHBOARD_HUB_ID), (dash_broker.host, dash_broker.port),
                         Directory.from_site(site.path), store)
    sender.start()
    queued = renewals_dir(hub_site(site.path)) / f"station-01{CSR_SUFFIX}"
    try:
        assert sender.wait_connected(WAIT_S), "the command link did not connect"
        assert wait_for(lambda: any(r.device_id == "station-01" and r.online for r in store.fleet_rows()), 60), \
            "the station never came online"
        assert not queued.exists()
        commands = Commands(store, AuditLog(store), sender, lambda d: d == "station-01")
        cmd = commands.issue("alice", "station-01", "renew", timeout_s=30)
        done = wait_for(lambda: commands.get(cmd.id).state is not CommandState.SENT, 40)
        assert done and commands.get(cmd.id).state is CommandState.DONE, commands.get(cmd.id)
        assert wait_for(queued.exists, 40), "no renewal request reached the hub's queue"
        csr = x509.load_pem_x509_csr(queued.read_bytes())
        assert csr.is_signature_valid
        assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "station-01"
        old_key = (bundle / "device.crt.pem").read_bytes()
        assert x509.load_pem_x509_certificate(old_key).public_key() != csr.public_key()  # a key made for it
    finally:
        sender.stop()
        store.close()
        terminate(station, 20)
