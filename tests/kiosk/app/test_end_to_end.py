"""The whole visit by touch through the simulators, the real broker (project ACL), the real hub
with its services and the acquirer simulator over ISO 8583: the hub's client, not a fake. Signing
asks for her PIN, which the acquirer verifies (0100, wrong then right); the payment carries the
PIN pad's terminal MAC, which the acquirer checks with the terminal's key."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mqtt_broker_config.launcher import BrokerProcess
from provisioning.site import Site
from tests.acquirer_simulator.support import (
    CARDS,
    MAC_KEY,
    PIN,
    PIN_KEY,
    TAK,
    TERMINAL,
    Acquirer,
    run_acquirer,
)
from tests.kiosk.app.conftest import Runner
from tests.kiosk.app.script import book_first_slot, note, pay_with_pin, register_new_patient, tap, wait
from tests.support.hub import HubFactory, HubProcess, wait_for_records

pytestmark = [pytest.mark.ui, pytest.mark.integration, pytest.mark.slow]
DEVICE = "kiosk-e2e"


@pytest.fixture
def hub_side(site: Site, enroll_device: Any, broker: BrokerProcess, hub_factory: HubFactory,
             tmp_path: Path) -> Iterator[tuple[Path, BrokerProcess, HubProcess, Acquirer]]:
    bundle = enroll_device(DEVICE, "kiosk")
    with run_acquirer(tmp_path / "acq") as acquirer:
        state = tmp_path / "hub-state"
        state.mkdir()
        fd = os.open(state / "services.json", os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"acquirer": {"host": acquirer.host, "port": acquirer.port, "mac_key": MAC_KEY.hex()}}, f)
        hub = hub_factory(site.path, broker=broker, state_dir=state)
        yield bundle, broker, hub, acquirer


def test_visit_through_broker_hub_and_acquirer(run_kiosk: Runner, hub_side: Any) -> None:
    bundle, broker, hub, acquirer = hub_side
    report = run_kiosk("e2e-visit", [
        *register_new_patient(screening_yes=True), note("registered"), tap("to_menu"), wait("menu"),
        tap("sign"), {"do": "bank_card"}, wait("pin", busy_ok=True), {"do": "pin", "keys": [*"135790", "ENTER"]},
        wait("message"), note("sign_wrong_pin"), tap("retry_pin"), wait("pin", busy_ok=True),
        {"do": "pin", "keys": [*PIN, "ENTER"]}, wait("message"), note("signed"), tap("to_menu"), wait("menu"),
        *book_first_slot(), note("booked"), *pay_with_pin(PIN), note("paid"), tap("leave"),
        wait("leave", busy_ok=True), {"do": "take_card"}, wait("home"), note("home"),
    ], hub={"bundle": str(bundle), "broker": [broker.host, broker.port]}, terminal=TERMINAL,
        pin_key=PIN_KEY.hex(), tak=TAK.hex(), card_pan=CARDS["approve"])
    notes = report["notes"]
    assert "建档成功" in notes["registered"]["message"] and "医生" in notes["registered"]["message"]
    assert "密码错误，还可以再试 2 次" in notes["sign_wrong_pin"]["message"]
    assert "签约成功" in notes["signed"]["message"]
    assert [e["code"] for e in acquirer.events("verify")] == ["55", "00"]  # her PIN, checked by the bank
    assert "请在" in notes["booked"]["message"]
    assert "缴费成功" in notes["paid"]["message"] and "凭条已打印" in notes["paid"]["message"]
    assert "谢谢" in notes["home"]["message"]
    assert len(acquirer.events("charge")) == 1  # charged exactly once, PIN block verified by the acquirer
    assert "缴费凭条" in report["receipt"] and CARDS["approve"] not in report["receipt"]
    assert report["link_drained"]
    assert wait_for_records(hub.db_url, 3, 10, DEVICE) >= 3
    schemas = sorted(s for _, s, *_ in hub.store().sealed_records(DEVICE))
    assert {"pregnancy-record/1", "card-binding/1", "payment-result/1"} <= set(schemas)
