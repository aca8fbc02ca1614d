"""Commands and faults through the real broker and hub: sent, carried out, acknowledged, audited."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from central_hub.audit import AuditLog
from central_hub.command_link import CommandLink
from central_hub.commands import Commands, CommandState
from central_hub.directory import Directory
from central_hub.fleet import faults_of
from central_hub.store import open_store
from mch_link.device import DeviceLink
from mch_link.registry import hub_identity
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.site import Site
from tests.support.broker import start_broker
from tests.support.hub import HubFactory

pytestmark = pytest.mark.integration

WAIT_S = 20.0
DASHBOARD_HUB_ID = "hub-2"


@pytest.fixture
def dash_broker(site: Site) -> Iterator[BrokerProcess]:
    site.issue_hub_identity(DASHBOARD_HUB_ID)  # before the broker renders its ACL
    proc = start_broker(site.path)
    yield proc
    proc.stop()
    shutil.rmtree(proc.run_dir, ignore_errors=True)


def wait_for(check: Any, timeout_s: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    return check()


def test_command_acknowledged_and_fault_shown(site: Site, dash_broker: BrokerProcess, enroll_device,
                                              hub_factory: HubFactory, tmp_path: Path) -> None:
    bundle = enroll_device("kiosk-001", "kiosk")
    hub = hub_factory(site.path, broker=dash_broker)
    faults: list[dict[str, Any]] = []
    carried_out: list[tuple[str, dict[str, Any]]] = []

    def on_command(command: str, args: dict[str, Any]) -> tuple[str, str]:
        carried_out.append((command, args))
        return ("done", "offer noted") if command == "update-offer" else ("refused", "not now")

    link = DeviceLink.from_bundle(bundle, tmp_path / "outbox.db", broker=(dash_broker.host, dash_broker.port),
                                  heartbeat_s=0.5, faults=lambda: list(faults), on_command=on_command)
    store = open_store(hub.db_url)
    sender = CommandLink(hub_identity(site.path, DASHBOARD_HUB_ID), (dash_broker.host, dash_broker.port),
                         Directory.from_site(site.path), store)
    sender.start()
    link.start()
    try:
        assert sender.wait_connected(WAIT_S), "the dashboard's command link did not connect"
        assert wait_for(lambda: any(r.online for r in store.fleet_rows())), "no birth reached the hub"
        faults.append({"code": "paper-out", "severity": "warning", "detail": "receipt printer"})
        row = wait_for(lambda: next((r for r in store.fleet_rows() if faults_of(r)), None))
        assert row is not None and faults_of(row)[0]["code"] == "paper-out"

        commands = Commands(store, AuditLog(store), sender, lambda d: d == "kiosk-001")
        offer = commands.issue("alice", "kiosk-001", "update-offer", {"version": "2.0.0"}, timeout_s=10)
        reboot = commands.issue("alice", "kiosk-001", "reboot", timeout_s=10)
        rebirth = commands.issue("alice", "kiosk-001", "rebirth", timeout_s=10)
        assert wait_for(lambda: all(commands.get(c.id).state is not CommandState.SENT
                                    for c in (offer, reboot, rebirth)))
        assert (commands.get(offer.id).state, commands.get(offer.id).result) == (CommandState.DONE, "offer noted")
        assert (commands.get(reboot.id).state, commands.get(reboot.id).result) == (CommandState.REFUSED, "not now")
        assert commands.get(rebirth.id).state is CommandState.DONE
        assert carried_out == [("update-offer", {"version": "2.0.0"}), ("reboot", {})]
        assert [e.action for e in AuditLog(store).entries()] == ["command"] * 3
        history = [r[0] for r in store.read("SELECT event FROM fleet_events WHERE device_id = 'kiosk-001'")]
        assert "fault-raised" in history and history.count("command-result") == 3
    finally:
        link.stop()
        sender.stop()
        store.close()


def test_a_device_that_never_answers_times_out(site: Site, dash_broker: BrokerProcess, enroll_device,
                                               hub_factory: HubFactory) -> None:
    enroll_device("kiosk-002", "kiosk")  # registered, never connected
    hub = hub_factory(site.path, broker=dash_broker)
    store = open_store(hub.db_url)
    sender = CommandLink(hub_identity(site.path, DASHBOARD_HUB_ID), (dash_broker.host, dash_broker.port),
                         Directory.from_site(site.path), store)
    sender.start()
    try:
        assert sender.wait_connected(WAIT_S)
        commands = Commands(store, AuditLog(store), sender, lambda d: True)
        cmd = commands.issue("alice", "kiosk-002", "crl-refresh", timeout_s=1)
        assert cmd.state is CommandState.SENT  # the broker took it (queued for nobody)
        time.sleep(1.1)
        assert commands.expire() == 1
        assert commands.get(cmd.id).state is CommandState.TIMEOUT
    finally:
        sender.stop()
        store.close()
