from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

import pytest

from kiosk.app import demo_keys
from kiosk.bankcard.errors import (
    CardExpiredError,
    CardReadError,
    CardRemovedError,
    NoCardError,
    PcscUnavailableError,
    StripeOnlyCardError,
)
from kiosk.epp import crypto as c
from kiosk.flows.bankcard import id_cross_check, load_bindings, read_bank_card, sign, unbind, verify_holder
from kiosk.flows.session import Session
from kiosk.idcard.synthetic import synthetic_identity
from tests.kiosk.fake_hospital import FakeHospital
from tests.kiosk.flows.conftest import Pad, PressingPad, StubBankCardReader, card_data

PIN = "123456"
TERMINAL = "KSK00001"

pytestmark = pytest.mark.integration  # drivers on their pty simulators


def with_patient(hospital: FakeHospital, *, id_number: str | None = None) -> Session:
    session = Session()
    identity = synthetic_identity(random.Random(3))
    if id_number is not None:
        identity = replace(identity, id_number=id_number, birth_date=dt.date(1990, 3, 7))
    session.identity = identity
    session.patient = hospital.add_patient(identity.id_number, identity.name, identity.birth_date)
    return session


def verified(hospital: FakeHospital, pad: Pad, session: Session, binding_id: str | None = None) -> str:
    result = verify_holder(hospital, PressingPad(pad, [*PIN, "ENTER"]), session, pad.keys, TERMINAL,
                           binding_id=binding_id)
    assert result.ticket is not None, result.notice
    return result.ticket


def expect_pin(hospital: FakeHospital, session: Session) -> None:
    """The bank knows her PIN: only its block under the demo PIN key is right."""
    assert session.bank_card is not None
    hospital.correct_pin_blocks = {c.encrypted_pin_block(PIN, c.pan_field(session.bank_card.pan), 0,
                                                         c.Algorithm.TDES, demo_keys.PIN_KEY)}


def test_read_errors_become_notices_and_leave_no_card() -> None:
    session = Session()
    for error, code in ((CardExpiredError("x"), "card_expired"), (StripeOnlyCardError("x"), "card_stripe_only"),
                        (CardRemovedError("x"), "card_removed"), (NoCardError("x"), "card_timeout")):
        notice = read_bank_card(StubBankCardReader(error=error), session)
        assert notice is not None and notice.code == code and session.bank_card is None


def test_a_reader_that_is_gone_is_a_device_fault_not_a_reinsert() -> None:
    """'Insert the card again' would send her round in circles when the reader itself is gone."""
    session = Session()
    gone = read_bank_card(StubBankCardReader(error=PcscUnavailableError("reader 'Virtual PCD 00 00' not found")),
                          session)
    assert gone is not None and session.bank_card is None
    assert gone.text("zh") == "银行卡读卡器 故障，相关功能暂停使用。"
    assert gone.text("en") == "bank card reader is out of order; the services that need it are paused."
    unreadable = read_bank_card(StubBankCardReader(error=CardReadError("no AFL")), session)
    assert unreadable is not None and unreadable.text("zh") == "银行卡读取失败，请重新插卡。"


def test_sign_binds_token_and_masked_pan_only(hospital: FakeHospital, pad: Pad) -> None:
    session = with_patient(hospital)
    session.bank_card = card_data("no-id")
    outcome = sign(hospital, pad.driver, session, pad.keys, verified(hospital, pad, session))
    assert outcome.ok and outcome.binding is not None
    pan = session.bank_card.pan
    assert outcome.binding.masked_pan == pan[:6] + "*" * (len(pan) - 10) + pan[-4:]
    assert pan[-4:] in outcome.notice.text("zh") and pan not in outcome.notice.text("zh")
    # the same card, read again, gives the same token: the hub recognises it without the PAN
    again = Session(identity=session.identity, patient=session.patient, bank_card=card_data("no-id"))
    assert sign(hospital, pad.driver, again, pad.keys, verified(hospital, pad, again)).binding == outcome.binding
    assert len(hospital.bindings) == 1


def test_card_of_another_person_is_refused(hospital: FakeHospital, pad: Pad) -> None:
    session = with_patient(hospital)
    session.bank_card = card_data("pse")  # carries 9F61 of another synthetic person
    assert id_cross_check(session.bank_card, session) is not None
    outcome = sign(hospital, pad.driver, session, pad.keys, "no-ticket")
    assert not outcome.ok and outcome.notice is not None and outcome.notice.code == "card_id_mismatch"
    assert "bind_card" not in hospital.calls


def test_card_of_the_same_person_passes_the_cross_check(hospital: FakeHospital) -> None:
    card = card_data("pse")
    session = with_patient(hospital, id_number=card.cardholder_id_number)
    assert id_cross_check(card, session) is None


def test_unbind(hospital: FakeHospital, pad: Pad) -> None:
    session = with_patient(hospital)
    assert load_bindings(hospital, session) is not None  # none yet: said so
    session.bank_card = card_data("no-id")
    binding = sign(hospital, pad.driver, session, pad.keys, verified(hospital, pad, session)).binding
    assert binding is not None and load_bindings(hospital, session) is None
    outcome = unbind(hospital, session, binding.binding_id, verified(hospital, pad, session, binding.binding_id))
    assert outcome.ok and outcome.notice is not None and outcome.notice.code == "unbound"
    assert hospital.bindings == {} and session.bindings == []
    hospital.unreachable = True
    assert load_bindings(hospital, session) is not None


def test_the_pin_is_verified_by_the_bank_without_a_charge(hospital: FakeHospital, pad: Pad) -> None:
    session = with_patient(hospital)
    session.bank_card = card_data("no-id")
    expect_pin(hospital, session)
    ticket = verified(hospital, pad, session)
    (check,) = hospital.verifications
    assert check.pin_block in hospital.correct_pin_blocks and check.pan == session.bank_card.pan
    # the terminal MAC over the zero-amount verification, made in the pad under its terminal MAC key
    mab = f"MCH1330000{0:012d}{check.pan}={check.card_expiry:%y%m}{check.pin_block.hex().upper()}{TERMINAL}"
    assert check.terminal_mac == c.x919_mac(demo_keys.TERMINAL_MAC_KEY, mab.encode())
    assert hospital.charged_fen == 0 and hospital.payments == []
    assert sign(hospital, pad.driver, session, pad.keys, ticket).ok


def test_wrong_pins_then_the_bank_locks_the_card_and_nothing_is_bound(hospital: FakeHospital, pad: Pad) -> None:
    session = with_patient(hospital)
    session.bank_card = card_data("no-id")
    expect_pin(hospital, session)
    wrong = PressingPad(pad, [*"654321", "ENTER"])
    first = verify_holder(hospital, wrong, session, pad.keys, TERMINAL, attempt=1)
    second = verify_holder(hospital, wrong, session, pad.keys, TERMINAL, attempt=2)
    assert (first.ticket, first.retry_pin, first.notice and first.notice.text("zh")) == \
        (None, True, "密码错误，还可以再试 2 次。")
    assert second.retry_pin and second.notice is not None and "1 次" in second.notice.text("zh")
    third = verify_holder(hospital, wrong, session, pad.keys, TERMINAL, attempt=3)
    assert third.notice is not None and third.notice.code == "holder_locked" and not third.retry_pin
    assert "锁定" in third.notice.text("zh") and "未做任何更改" in third.notice.text("zh")
    # locked by the bank: the right PIN no longer helps, on this visit or the next
    again = verify_holder(hospital, PressingPad(pad, [*PIN, "ENTER"]), session, pad.keys, TERMINAL, attempt=1)
    assert again.ticket is None and again.notice is not None and again.notice.code == "holder_locked"
    assert hospital.bindings == {} and "bind_card" not in hospital.calls


def test_cancel_timeout_and_bank_silence_change_nothing(hospital: FakeHospital, pad: Pad) -> None:
    session = with_patient(hospital)
    session.bank_card = card_data("no-id")
    cancelled = verify_holder(hospital, PressingPad(pad, ["1", "CANCEL"]), session, pad.keys, TERMINAL)
    assert cancelled.notice is not None and cancelled.notice.text("zh") == "密码输入已取消，未做任何更改。"
    timed_out = verify_holder(hospital, pad.driver, session, pad.keys, TERMINAL, timeout_s=1)  # nobody types
    assert timed_out.notice is not None and timed_out.notice.text("zh") == "密码输入超时，未做任何更改。"
    assert hospital.verifications == []
    hospital.verify_mode = "unavailable"
    silent = verify_holder(hospital, PressingPad(pad, [*PIN, "ENTER"]), session, pad.keys, TERMINAL)
    assert silent.ticket is None and silent.notice is not None and silent.notice.code == "holder_unavailable"
    hospital.unreachable = True
    down = verify_holder(hospital, PressingPad(pad, [*PIN, "ENTER"]), session, pad.keys, TERMINAL)
    assert down.notice is not None and down.notice.code == "hub_down"
    assert hospital.bindings == {}


def test_unbinding_needs_the_pin_of_the_bound_card(hospital: FakeHospital, pad: Pad) -> None:
    session = with_patient(hospital)
    session.bank_card = card_data("no-id")
    binding = sign(hospital, pad.driver, session, pad.keys, verified(hospital, pad, session)).binding
    assert binding is not None
    session.bank_card = card_data("ppse-only")  # another card of hers (another PAN)
    other = verify_holder(hospital, PressingPad(pad, [*PIN, "ENTER"]), session, pad.keys, TERMINAL,
                          binding_id=binding.binding_id)
    assert other.notice is not None and other.notice.code == "card_not_this_binding"
    refused = unbind(hospital, session, binding.binding_id, "a-ticket-of-nothing")
    assert not refused.ok and binding.binding_id in hospital.bindings


def test_sign_unbind_and_sign_again_binds_the_card_again(hospital: FakeHospital, pad: Pad) -> None:
    """The hub keeps the first answer under a key and refuses that key with other arguments: a second
    signing (a new ticket) under the visit's first bind key was refused `idempotency-conflict`."""
    session = with_patient(hospital)
    session.bank_card = card_data("no-id")
    first = sign(hospital, pad.driver, session, pad.keys, verified(hospital, pad, session))
    assert first.ok and first.binding is not None
    gone = unbind(hospital, session, first.binding.binding_id,
                  verified(hospital, pad, session, first.binding.binding_id))
    assert gone.ok and hospital.bindings == {}
    again = sign(hospital, pad.driver, session, pad.keys, verified(hospital, pad, session))
    assert again.ok and again.notice.code == "signed", again.notice
    assert again.binding is not None and again.binding.binding_id != first.binding.binding_id
    assert list(hospital.bindings) == [again.binding.binding_id] and session.bindings == [again.binding]


def test_a_signing_refused_for_its_ticket_is_signed_with_the_next_ticket(hospital: FakeHospital, pad: Pad) -> None:
    session = with_patient(hospital)
    session.bank_card = card_data("no-id")
    stale = sign(hospital, pad.driver, session, pad.keys, "ticket-of-another-card")
    assert not stale.ok and stale.notice.params == {"hub_code": "not-verified"}
    outcome = sign(hospital, pad.driver, session, pad.keys, verified(hospital, pad, session))
    assert outcome.ok and outcome.binding is not None and list(hospital.bindings) == [outcome.binding.binding_id]

