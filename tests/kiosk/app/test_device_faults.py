"""Device faults as device state: paper out, PIN-pad tamper (its keys erased) or lockout, a bank-card
reader gone from pcscd. Each is probed on the real driver and simulator (pcscd for the reader), disables
only the flows that need the device, and reaches the hub's fleet state as its fault code in state/1,
through the real broker and hub, within seconds rather than at the next heartbeat; a fault that clears
is cleared there too."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from central_hub.fleet import faults_of
from central_hub.store import open_store
from kiosk.app import demo_keys
from kiosk.app.health import apply, probe
from kiosk.bankcard import BankCardReader, PcscClient
from kiosk.epp import simulator as epp_sim
from kiosk.epp.driver import PinPad
from kiosk.flows.devices import DeviceHealth, Devices
from kiosk.receipt import simulator as receipt_sim
from kiosk.receipt.backends import SerialEscpos
from kiosk.receipt.commands import PaperLevel, PrinterStatus
from kiosk.receipt.driver import ReceiptPrinter
from kiosk.serial_transport import open_port
from mch_link.device import DeviceLink
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.site import Site
from tests.central_hub.test_commands_e2e import wait_for
from tests.kiosk.bankcard.conftest import VIRTUAL_READER, start_pcscd
from tests.support.hub import HubFactory

pytestmark = pytest.mark.integration

OUT_OF_PAPER = PrinterStatus(online=True, cover_open=False, paper=PaperLevel.OUT, cutter_error=False,
                             unrecoverable_error=False)
READY = PrinterStatus(online=True, cover_open=False, paper=PaperLevel.OK, cutter_error=False,
                      unrecoverable_error=False)


@dataclass
class Rig:
    pad_sim: epp_sim.EppHandle
    printer_sim: receipt_sim.PrinterHandle
    devices: Devices
    pcsc: PcscClient


@pytest.fixture
def rig() -> Iterator[Rig]:
    start_pcscd()
    pad_sim, printer_sim = epp_sim.start_on_pty(), receipt_sim.start_on_pty()
    ports = [open_port(pad_sim.port_url, device="epp"), open_port(printer_sim.port_url, device="receipt")]
    pad = PinPad(ports[0])
    demo_keys.load_demo_keys(pad)
    pcsc = PcscClient(call_timeout_s=5.0)
    devices = Devices(pinpad=pad, receipt=ReceiptPrinter(SerialEscpos(ports[1]), name="sim"),
                      bankcard=BankCardReader(pcsc, reader_name=VIRTUAL_READER, recovery_s=1.0))
    yield Rig(pad_sim, printer_sim, devices, pcsc)
    pcsc.release()
    for port in ports:
        port.close()
    pad_sim.stop()
    printer_sim.stop()


def _codes(health: DeviceHealth) -> dict[str, str]:
    return {f["code"]: f["severity"] for f in health.link_faults()}


def test_each_fault_has_its_code_and_stops_only_its_flows(rig: Rig) -> None:
    health = DeviceHealth(rig.devices)
    apply(health, probe(rig.devices))
    assert {"pinpad", "receipt", "bankcard"}.isdisjoint(health.snapshot())  # all well to begin with
    assert all(health.available(f) for f in ("sign", "unbind", "pay", "print_receipt"))
    rig.printer_sim.status = OUT_OF_PAPER
    apply(health, probe(rig.devices))
    assert _codes(health)["paper-out"] == "critical"
    assert not health.available("pay") and not health.available("print_receipt")
    assert health.available("sign") and health.available("book") and health.available("identify_number")
    rig.pad_sim.device.tamper()  # the case opened: the pad erases its keys
    apply(health, probe(rig.devices))
    assert _codes(health)["pinpad-tamper"] == "critical" and "key ceremony" in health.snapshot()["pinpad"]
    assert not health.available("sign") and not health.available("unbind")
    assert health.available("book") and health.available("register")
    rig.printer_sim.status = READY
    apply(health, probe(rig.devices))
    assert "paper-out" not in _codes(health) and health.available("print_receipt")


def test_a_locked_pad_and_a_reader_gone_from_pcscd(rig: Rig) -> None:
    rig.pad_sim.device.failures = rig.pad_sim.device.max_auth_failures
    gone = BankCardReader(rig.pcsc, reader_name="Gone Reader 00 00", recovery_s=1.0)
    devices = Devices(pinpad=rig.devices.pinpad, receipt=rig.devices.receipt, bankcard=gone)
    health = DeviceHealth(devices)
    apply(health, probe(devices))
    codes = _codes(health)
    assert codes["pinpad-lockout"] == "critical" and codes["card-reader-gone"] == "critical"
    assert not health.available("pay") and not health.available("sign") and health.available("book")


def test_the_hubs_fleet_state_shows_the_kiosks_device_faults(rig: Rig, site: Site, enroll_device: Any,
                                                             broker: BrokerProcess, hub_factory: HubFactory,
                                                             tmp_path: Path) -> None:
    bundle = enroll_device("kiosk-faults", "kiosk")
    hub = hub_factory(site.path, broker=broker)
    links: list[DeviceLink] = []  # as mch-kiosk run wires it: a change is reported at once
    health = DeviceHealth(rig.devices, on_change=lambda _: [link.report_state() for link in links])
    apply(health, probe(rig.devices))
    # the product's 30 s heartbeat, longer than every wait below: what the hub shows came from report_state
    link = DeviceLink.from_bundle(bundle, tmp_path / "outbox.db", broker=(broker.host, broker.port),
                                  heartbeat_s=30.0, faults=health.link_faults)
    links.append(link)
    store = open_store(hub.db_url)
    link.start()
    try:
        def fleet_faults() -> dict[str, dict[str, Any]]:
            row = next((r for r in store.fleet_rows() if r.device_id == "kiosk-faults"), None)
            return {f["code"]: f for f in faults_of(row)}

        assert wait_for(lambda: any(r.device_id == "kiosk-faults" and r.online for r in store.fleet_rows()))
        rig.printer_sim.status = OUT_OF_PAPER
        rig.pad_sim.device.tamper()
        apply(health, probe(rig.devices))
        shown = wait_for(lambda: (lambda f: f if {"paper-out", "pinpad-tamper"} <= set(f) else None)(fleet_faults()))
        assert shown, fleet_faults()
        assert shown["paper-out"]["severity"] == "critical" and "paper out" in shown["paper-out"]["detail"]
        assert shown["pinpad-tamper"]["severity"] == "critical" and shown["pinpad-tamper"]["since_ms"] > 0
        rig.printer_sim.status = READY
        apply(health, probe(rig.devices))
        assert wait_for(lambda: "paper-out" not in fleet_faults()), fleet_faults()
        assert "pinpad-tamper" in fleet_faults()
        events = [r[0] for r in store.read("SELECT event FROM fleet_events WHERE device_id = 'kiosk-faults'")]
        assert events.count("fault-raised") >= 2 and "fault-cleared" in events
    finally:
        link.stop()
        store.close()
