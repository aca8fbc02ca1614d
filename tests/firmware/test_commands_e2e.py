"""Issue 14 on the bridge: every command the hub sends is answered, through the real broker and hub.

The CTG bridge runs on the MicroPython unix port; the commands go out through central_hub.commands
(audited) and its command link; the answers come back in the bridge's state messages and close the
commands in the hub's store. Before, the bridge answered nothing (rebirth only caused a birth), so
every command timed out.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from central_hub.audit import AuditLog
from central_hub.command_link import CommandLink
from central_hub.commands import Commands, CommandState
from central_hub.directory import Directory
from central_hub.store import open_store
from mch_link.registry import hub_identity
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.site import Site
from tests.firmware.conftest import CHANNEL_HUB
from tests.firmware.test_e2e_mosquitto import Monitor
from tests.firmware.test_update_e2e import RebootingBridge, _wait

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEVICE = "bridge-ctg-008"


def test_every_command_is_answered(site: Site, dash_broker: BrokerProcess, hub_factory,
                                   tmp_path: Path) -> None:
    enrolled = site.enroll(DEVICE, "bridge").bundle
    bundle = tmp_path / "bundle"
    shutil.copytree(enrolled, bundle)
    cfg = json.loads((bundle / "config.json").read_text())
    cfg.update(broker_port=dash_broker.port, broker_tls_name="localhost", bridge={"heartbeat_ms": 2000})
    (bundle / "config.json").write_text(json.dumps(cfg))
    hub = hub_factory(site.path, broker=dash_broker)
    store, sender_store = open_store(hub.db_url), open_store(hub.db_url)
    directory = Directory.from_site(site.path)
    link = CommandLink(hub_identity(site.path, CHANNEL_HUB), (dash_broker.host, dash_broker.port), directory,
                       sender_store)
    commands = Commands(store, AuditLog(store), link, lambda d: d == DEVICE)
    monitor = Monitor()
    bridge = RebootingBridge(bundle, tmp_path / "state", monitor.path, tmp_path / "bridge.log")
    try:
        link.start()
        assert link.wait_connected(30)
        bridge.start()
        assert _wait(lambda: any(r.device_id == DEVICE and r.online for r in store.fleet_rows())), \
            bridge.log.read_text()[-3000:]
        issued = {name: commands.issue("operator-li", DEVICE, name, args, timeout_s=60) for name, args in (
            ("rebirth", None), ("config-push", {"bridge": {"heartbeat_ms": 3000}}), ("crl-refresh", None),
            ("renew", None), ("reboot", None))}
        assert _wait(lambda: all(commands.get(c.id).state is not CommandState.SENT for c in issued.values())), \
            [commands.get(c.id) for c in issued.values()]
        got = {name: (commands.get(c.id).state, commands.get(c.id).result) for name, c in issued.items()}
        assert got["rebirth"][0] is CommandState.DONE
        assert got["config-push"] == (CommandState.DONE, "applied heartbeat_ms")
        assert got["crl-refresh"][0] is CommandState.REFUSED and "CRL" in got["crl-refresh"][1]
        assert got["renew"][0] is CommandState.REFUSED and "mch-provision board" in got["renew"][1]
        assert got["reboot"] == (CommandState.DONE, "rebooting")
        assert _wait(lambda: bridge.boots >= 2), bridge.log.read_text()[-3000:]  # it did reboot, once
        row = _wait(lambda: next((r for r in store.fleet_rows() if r.device_id == DEVICE and r.online
                                  and r.heartbeat_s == 3), None))
        assert row is not None, "the pushed heartbeat interval did not survive the reboot"
        assert bridge.boots == 2
        assert [e.action for e in AuditLog(store).entries()].count("command") == 5
    finally:
        bridge.stop()
        monitor.close()
        link.stop()
        store.close()
        sender_store.close()
