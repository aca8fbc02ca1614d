"""Signing and unbinding need her PIN: card.verify_pin sends a 0100 account verification to the
acquirer simulator (no charge) and returns a ticket that card.bind and card.unbind require, for this
patient and this card only. Wrong PIN, lockout after 3 (the issuer's count), acquirer down: no ticket,
nothing bound or unbound."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from central_hub.services.db import ServicesDb
from central_hub.services.dispatcher import Dispatcher
from central_hub.services.gateway import AcquirerGateway, GatewayConfig
from mqtt_broker_config.launcher import free_port
from tests.acquirer_simulator.support import (
    CARDS,
    MAC_KEY,
    PIN,
    TERMINAL,
    Acquirer,
    pin_block,
    run_acquirer,
    terminal_mac,
)
from tests.central_hub.services.conftest import Clock, call, make_dispatcher, refusal

pytestmark = pytest.mark.integration

NEW = {"id_number": "11010519491231002X", "name": "王测试", "sex": "2", "birth_date": "1949-12-31"}
TOKEN = "epp-mac1:" + "ab" * 8
OTHER_TOKEN = "epp-mac1:" + "cd" * 8


@pytest.fixture
def acquirer(tmp_path: Path) -> Iterator[Acquirer]:
    with run_acquirer(tmp_path / "acq") as a:
        yield a


def _gateway(host: str, port: int) -> AcquirerGateway:
    return AcquirerGateway(GatewayConfig(host, port, MAC_KEY, connect_timeout_s=1.0, answer_timeout_s=1.0))


@pytest.fixture
def d(services_db: ServicesDb, clock: Clock, acquirer: Acquirer) -> Dispatcher:
    return make_dispatcher(services_db, clock, _gateway(acquirer.host, acquirer.port))


def _patient(d: Dispatcher) -> str:
    return str(call(d, "patient.register", NEW, "idem-reg-0001")["patient_id"])


def _verify_args(patient_id: str, card: str = "approve", pin: str = PIN, token: str = TOKEN) -> dict:
    block = pin_block(CARDS[card], pin).hex().upper()
    return {"patient_id": patient_id, "card_token": token, "pan": CARDS[card], "pan_sequence": "1",
            "card_expiry": "2030-12-31", "pin_block": block, "terminal_id": TERMINAL,
            "terminal_mac": terminal_mac("330000", 0, CARDS[card], "3012", block)}


def _bind(pid: str, ticket: object) -> dict:
    return {"patient_id": pid, "card_token": TOKEN, "masked_pan": "621700*****0019", "verification": ticket}


def test_right_pin_gives_a_ticket_that_binds_this_card_only(d: Dispatcher, acquirer: Acquirer) -> None:
    pid = _patient(d)
    verified = call(d, "card.verify_pin", _verify_args(pid), "idem-ver-0001")
    assert (verified["outcome"], verified["response_code"]) == ("verified", "00") and verified["ticket"]
    assert refusal(d, "card.bind", _bind(pid, None), "idem-bind-0001") == "not-verified"
    assert refusal(d, "card.bind", {**_bind(pid, verified["ticket"]), "card_token": OTHER_TOKEN},
                   "idem-bind-0002") == "not-verified"
    forged = verified["ticket"].split(".")[0] + "." + "0" * 64
    assert refusal(d, "card.bind", _bind(pid, forged), "idem-bind-0003") == "not-verified"
    binding = call(d, "card.bind", _bind(pid, verified["ticket"]), "idem-bind-0004")
    assert [b["binding_id"] for b in call(d, "card.list", {"patient_id": pid})] == [binding["binding_id"]]
    assert acquirer.events("charge") == [] and [e["code"] for e in acquirer.events("verify")] == ["00"]
    assert acquirer.balance(CARDS["approve"]) == 1_000_000


def test_a_ticket_expires_and_names_one_patient(d: Dispatcher, clock: Clock) -> None:
    pid = _patient(d)
    other = str(call(d, "patient.register", {**NEW, "id_number": "440524188001010014", "name": "李测试"},
                     "idem-reg-0002")["patient_id"])
    ticket = call(d, "card.verify_pin", _verify_args(pid), "idem-ver-0002")["ticket"]
    assert refusal(d, "card.bind", _bind(other, ticket), "idem-bind-0010") == "not-verified"
    clock.now += 301
    assert refusal(d, "card.bind", _bind(pid, ticket), "idem-bind-0011") == "not-verified"
    assert call(d, "card.list", {"patient_id": pid}) == []


def test_wrong_pins_then_lockout_give_no_ticket(d: Dispatcher, acquirer: Acquirer) -> None:
    pid = _patient(d)
    answers = [call(d, "card.verify_pin", _verify_args(pid, "lock", "000000"), f"idem-ver-01{i:02d}")
               for i in range(3)]
    assert [(a["outcome"], a["response_code"], a["ticket"]) for a in answers] == \
        [("declined", "55", None), ("declined", "55", None), ("declined", "75", None)]
    assert answers[2]["reason"] == "PIN tries exceeded"
    locked = call(d, "card.verify_pin", _verify_args(pid, "lock"), "idem-ver-0110")  # right PIN, card locked
    assert (locked["outcome"], locked["response_code"], locked["ticket"]) == ("declined", "75", None)
    # a retry with the same idempotency key is answered from the journal: not a fourth try at the issuer
    assert call(d, "card.verify_pin", _verify_args(pid, "lock", "000000"), "idem-ver-0100") == answers[0]
    assert len(acquirer.events("verify")) == 4
    assert call(d, "card.list", {"patient_id": pid}) == []


def test_acquirer_down_or_absent_verifies_nothing(services_db: ServicesDb, clock: Clock) -> None:
    down = make_dispatcher(services_db, clock, _gateway("127.0.0.1", free_port()))
    pid = _patient(down)
    answer = call(down, "card.verify_pin", _verify_args(pid), "idem-ver-0200")
    assert (answer["outcome"], answer["ticket"]) == ("unavailable", None)
    absent = make_dispatcher(services_db, clock)
    assert refusal(absent, "card.verify_pin", _verify_args(pid), "idem-ver-0201") == "verification-unavailable"
    assert refusal(absent, "card.verify_pin", {**_verify_args(pid), "pin_block": "12"}, "idem-ver-0202") == \
        "bad-request"


def test_unbinding_needs_the_pin_of_that_bound_card(d: Dispatcher) -> None:
    pid = _patient(d)
    ticket = call(d, "card.verify_pin", _verify_args(pid), "idem-ver-0300")["ticket"]
    binding_id = call(d, "card.bind", _bind(pid, ticket), "idem-bind-0300")["binding_id"]
    # another card (token) cannot be used to unbind this binding: refused before the acquirer is asked
    assert refusal(d, "card.verify_pin", {**_verify_args(pid, token=OTHER_TOKEN), "binding_id": binding_id},
                   "idem-ver-0301") == "card-mismatch"
    assert refusal(d, "card.unbind", {"patient_id": pid, "binding_id": binding_id}, "idem-unb-0301") == "not-verified"
    wrong = call(d, "card.verify_pin", {**_verify_args(pid, pin="999999"), "binding_id": binding_id}, "idem-ver-0302")
    assert wrong["ticket"] is None
    assert refusal(d, "card.unbind", {"patient_id": pid, "binding_id": binding_id, "verification": wrong["ticket"]},
                   "idem-unb-0302") == "not-verified"
    assert len(call(d, "card.list", {"patient_id": pid})) == 1
    again = call(d, "card.verify_pin", {**_verify_args(pid), "binding_id": binding_id}, "idem-ver-0303")["ticket"]
    call(d, "card.unbind", {"patient_id": pid, "binding_id": binding_id, "verification": again}, "idem-unb-0303")
    assert call(d, "card.list", {"patient_id": pid}) == []


def test_the_pan_of_a_verification_is_neither_logged_nor_stored(d: Dispatcher, services_db: ServicesDb,
                                                                caplog: pytest.LogCaptureFixture,
                                                                acquirer: Acquirer) -> None:
    caplog.set_level(logging.DEBUG)
    pid = _patient(d)
    ticket = call(d, "card.verify_pin", _verify_args(pid), "idem-ver-0400")["ticket"]
    call(d, "card.bind", _bind(pid, ticket), "idem-bind-0400")
    call(d, "card.verify_pin", _verify_args(pid, pin="999999"), "idem-ver-0401")
    pan = CARDS["approve"]
    assert "621700******" in caplog.text and pan not in caplog.text
    assert pan not in acquirer.journal_path.read_text()
    rows = [str(r) for t in ("svc_card_bindings", "svc_idempotency") for r in services_db.query(f"SELECT * FROM {t}")]
    assert rows and not any(pan in r for r in rows)
    if not services_db.lock_suffix:  # SQLite: the file itself, WAL included
        path = Path(services_db.store.url.removeprefix("sqlite:///"))
        for f in (path, Path(f"{path}-wal")):
            assert not f.exists() or pan.encode() not in f.read_bytes()
