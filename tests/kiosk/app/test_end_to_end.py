"""The whole visit by touch through the simulators, the real broker (project ACL), the real hub
with its services and the acquirer simulator over ISO 8583: the hub's client, not a fake. Signing
asks for her PIN, which the acquirer verifies (0100, wrong then right); the payment carries the
PIN pad's terminal MAC, which the acquirer checks with the terminal's key. The bank card is the
product's BankCardReader over pcscd and the vpcd virtual reader, reading a virtual PBOC card that
the driver plugs in and pulls out (a card pulled during the PIN, a card in another person's name)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.bankcard.channel import READ_ONLY_COMMANDS
from kiosk.idcard import simulator as id_sim
from kiosk.idcard.identity import parse_text_block
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
from tests.kiosk.app.script import book_first_slot, note, pay_with_pin, register_new_patient, shot, tap, wait
from tests.kiosk.bankcard.conftest import pcscd, wait_reader_empty  # noqa: F401 - the shared pcscd fixture
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


@pytest.fixture
def real_reader(pcscd: None) -> Iterator[None]:  # noqa: F811 - the fixture imported above
    """pcscd with the vpcd reader empty before the run and again after it (vpcd takes one card)."""
    wait_reader_empty()
    yield
    wait_reader_empty()


def kiosk_options(bundle: Path, broker: BrokerProcess, **extra: Any) -> dict[str, Any]:
    """The kiosk on the hub, with the acquirer's terminal keys and card, the bank card over PC/SC."""
    return {"hub": {"bundle": str(bundle), "broker": [broker.host, broker.port]}, "terminal": TERMINAL,
            "pin_key": PIN_KEY.hex(), "tak": TAK.hex(), "card_pan": CARDS["approve"], "pcsc": True, **extra}


def clean_shots(report: dict[str, Any], names: set[str]) -> None:
    shots = {s["name"]: s for s in report["shots"]}
    assert set(shots) == names
    for name, taken in shots.items():
        assert taken["missing"] == [] and taken["layout"] == [], (name, taken["missing"], taken["layout"])


def read_over_pcsc(report: dict[str, Any]) -> dict[str, Any]:
    """The one card of the run, read by the PBOC flow through pcscd with read-only commands only."""
    [card] = report["bank_cards"]
    assert card["pan_last4"] == CARDS["approve"][-4:] and card["connections"] >= 1
    assert card["atc"] >= 1  # GET PROCESSING OPTIONS reached the chip: the read went through pcscd
    assert {tuple(i) for i in card["instructions"]} <= READ_ONLY_COMMANDS  # no GENERATE AC, no VERIFY
    return card


def hub_schemas(hub: HubProcess, at_least: int) -> set[str]:
    assert wait_for_records(hub.db_url, at_least, 10, DEVICE) >= at_least
    return {s for _, s, *_ in hub.store().sealed_records(DEVICE)}


def test_visit_through_broker_hub_and_acquirer(run_kiosk: Runner, hub_side: Any, real_reader: None,
                                               cupsd: None) -> None:
    bundle, broker, hub, acquirer = hub_side
    report = run_kiosk("e2e-visit", [
        *register_new_patient(screening_yes=True), note("registered"), tap("to_menu"), wait("menu"),
        tap("sign"), {"do": "bank_card", "holder": "her"}, wait("pin", busy_ok=True),
        {"do": "pin", "keys": [*"135790", "ENTER"]},
        wait("message"), note("sign_wrong_pin"), tap("retry_pin"), wait("pin", busy_ok=True),
        {"do": "pin", "keys": [*PIN, "ENTER"]}, wait("message"), note("signed"), shot("signed", "message"), tap("to_menu"), wait("menu"),
        *book_first_slot(), note("booked"), *pay_with_pin(PIN), note("paid"), shot("paid", "message"), {"do": "remember"},
        tap("print_report"), wait("message"), note("report"), tap("leave"),
        wait("leave", busy_ok=True), {"do": "take_card"}, wait("home"), note("home"), {"do": "scan"},
    ], **kiosk_options(bundle, broker), a4=True)
    notes = report["notes"]
    assert "建档成功" in notes["registered"]["message"] and "医生" in notes["registered"]["message"]
    assert "密码错误，还可以再试 2 次" in notes["sign_wrong_pin"]["message"]
    assert "签约成功" in notes["signed"]["message"]
    assert [e["code"] for e in acquirer.events("verify")] == ["55", "00"]  # her PIN, checked by the bank
    assert "请在" in notes["booked"]["message"]
    assert "缴费成功" in notes["paid"]["message"] and "凭条已打印" in notes["paid"]["message"]
    assert "A4 报告已打印" in notes["report"]["message"]
    assert "谢谢" in notes["home"]["message"]
    assert len(acquirer.events("charge")) == 1  # charged exactly once, PIN block verified by the acquirer
    assert "缴费凭条" in report["receipt"] and CARDS["approve"] not in report["receipt"]
    assert report["link_drained"]
    assert {"pregnancy-record/1", "card-binding/1", "payment-result/1"} <= hub_schemas(hub, 3)
    assert ["rec", "payment-result/1"] in report["outbox"]  # the link's outbox took it (and sent it)
    # the A4 report through CUPS, from what the hub holds: her record and schedule, her identity masked
    (a4,) = report["a4"]
    her = parse_text_block(id_sim.valid_card(11).text)  # the card the driver placed
    assert "预产期" in a4 and "产前检查" in a4
    assert f"{her.name[0]}*{her.name[-1]}" in a4 and f"{her.id_number[:6]}{'*' * 8}{her.id_number[-4:]}" in a4
    assert her.name not in a4 and her.id_number not in a4 and CARDS["approve"] not in a4
    read_over_pcsc(report)
    clean_shots(report, {"signed", "paid"})
    # her name, ID number and the PAN the chip gave: on no screen, in no log line or file once she is gone
    assert CARDS["approve"] in report["remembered"] and len(report["remembered"]) >= 3
    assert report["privacy_hits"] == [] and report["session_after"] == []


def test_card_pulled_during_the_payment_pin_charges_nothing(run_kiosk: Runner, hub_side: Any,
                                                            real_reader: None) -> None:
    """The card leaves the reader (a vpcd removal) while the pad waits for her PIN: the kiosk sees it
    through pcscd, stops the entry and says nothing was charged; the acquirer never saw a charge."""
    bundle, broker, hub, acquirer = hub_side
    report = run_kiosk("e2e-card-pulled", [
        *register_new_patient(), tap("to_menu"), wait("menu"), *book_first_slot(), note("booked"),
        tap("pay_now"), {"do": "bank_card"}, wait("pin", busy_ok=True), note("pin", busy_ok=True),
        shot("pin", "pin", busy_ok=True), {"do": "pull_bank_card"}, wait("message"), note("pulled"),
        shot("pulled", "message"), tap("to_menu"), wait("menu"), tap("leave"),
        wait("leave", busy_ok=True),
        {"do": "take_card"}, wait("home"),
    ], **kiosk_options(bundle, broker))
    notes = report["notes"]
    assert "请在" in notes["booked"]["message"]
    assert notes["pin"]["screen"] == "pin"  # the PIN entry had started when the card went
    assert "银行卡被拔出" in notes["pulled"]["message"] and "未扣款" in notes["pulled"]["message"]
    assert acquirer.events("charge") == [] and acquirer.events("reversal") == []
    assert report["link_drained"]
    schemas = hub_schemas(hub, 1)
    assert "pregnancy-record/1" in schemas and "payment-result/1" not in schemas
    assert ["rec", "pregnancy-record/1"] in report["outbox"]  # what the link's outbox took over the run
    assert all(schema != "payment-result/1" for _, schema in report["outbox"])
    read_over_pcsc(report)
    clean_shots(report, {"pin", "pulled"})


def test_card_in_another_persons_name_is_refused_at_signing(run_kiosk: Runner, hub_side: Any,
                                                            real_reader: None) -> None:
    """The chip's cardholder ID (9F61, read over PC/SC) is not her ID card's number: refused before
    any PIN, nothing bound, nothing asked of her bank."""
    bundle, broker, hub, acquirer = hub_side
    report = run_kiosk("e2e-card-not-hers", [
        *register_new_patient(), tap("to_menu"), wait("menu"), tap("sign"), {"do": "bank_card", "profile": "pse"},
        wait("message"), note("refused"), shot("refused", "message"), tap("to_menu"), wait("menu"), tap("leave"), wait("leave", busy_ok=True),
        {"do": "take_card"}, wait("home"),
    ], **kiosk_options(bundle, broker))
    assert "持卡人证件与身份证不一致" in report["notes"]["refused"]["message"]
    assert acquirer.events("verify") == []
    assert report["link_drained"]
    schemas = hub_schemas(hub, 1)
    assert "pregnancy-record/1" in schemas and "card-binding/1" not in schemas
    read_over_pcsc(report)
    clean_shots(report, {"refused"})


def test_acquirer_timeout_is_reversed_and_she_is_told_not_charged(run_kiosk: Runner, hub_side: Any,
                                                                 real_reader: None) -> None:
    """Her bank's host never answers the charge (the acquirer's "timeout" card): the hub's gateway sends
    the reversal, the acquirer journals it, and the screen says the transaction was reversed, not charged."""
    bundle, broker, hub, acquirer = hub_side
    options = {**kiosk_options(bundle, broker), "card_pan": CARDS["timeout"]}
    report = run_kiosk("e2e-acquirer-timeout", [
        *register_new_patient(), tap("to_menu"), wait("menu"), *book_first_slot(), note("booked"),
        *pay_with_pin(PIN), note("outcome"), shot("outcome", "message"), tap("to_menu"), wait("menu"),
        tap("leave"), wait("leave", busy_ok=True), {"do": "take_card"}, wait("home"),
    ], **options)
    outcome = report["notes"]["outcome"]["message"]
    assert "请在" in report["notes"]["booked"]["message"]
    assert "未扣款" in outcome and "撤销" in outcome and "缴费成功" not in outcome
    [charge] = acquirer.events("charge")
    reversals = acquirer.events("reversal")
    assert reversals and {(r["stan"], r["amount_fen"]) for r in reversals} == {(charge["stan"], charge["amount_fen"])}
    assert acquirer.balance(CARDS["timeout"]) == 1_000_000  # her account as before
    assert report["link_drained"]
    clean_shots(report, {"outcome"})


def test_acquirer_decline_tells_her_why_and_charges_nothing(run_kiosk: Runner, hub_side: Any,
                                                           real_reader: None) -> None:
    """Her bank declines (the acquirer's "poor" card: 51, balance below the fee): the reason on screen,
    nothing charged, nothing to reverse."""
    bundle, broker, hub, acquirer = hub_side
    options = {**kiosk_options(bundle, broker), "card_pan": CARDS["poor"]}
    report = run_kiosk("e2e-acquirer-decline", [
        *register_new_patient(), tap("to_menu"), wait("menu"), *book_first_slot(), *pay_with_pin(PIN),
        note("outcome"), tap("to_menu"), wait("menu"), tap("leave"), wait("leave", busy_ok=True),
        {"do": "take_card"}, wait("home"),
    ], **options)
    outcome = report["notes"]["outcome"]["message"]
    assert "余额不足" in outcome and "未扣款" in outcome
    assert [e["code"] for e in acquirer.events("decline")] == ["51"]  # asked once, declined by her bank
    assert acquirer.events("charge") == [] and acquirer.events("reversal") == []
    assert acquirer.balance(CARDS["poor"]) == 100
    assert report["link_drained"]
