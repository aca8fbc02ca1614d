from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

import pytest

from kiosk.bankcard.errors import CardExpiredError, CardRemovedError, NoCardError, StripeOnlyCardError
from kiosk.flows.bankcard import id_cross_check, load_bindings, read_bank_card, sign, unbind
from kiosk.flows.session import Session
from kiosk.idcard.synthetic import synthetic_identity
from tests.kiosk.fake_hospital import FakeHospital
from tests.kiosk.flows.conftest import Pad, StubBankCardReader, card_data

pytestmark = pytest.mark.integration  # drivers on their pty simulators


def with_patient(hospital: FakeHospital, *, id_number: str | None = None) -> Session:
    session = Session()
    identity = synthetic_identity(random.Random(3))
    if id_number is not None:
        identity = replace(identity, id_number=id_number, birth_date=dt.date(1990, 3, 7))
    session.identity = identity
    session.patient = hospital.add_patient(identity.id_number, identity.name, identity.birth_date)
    return session


def test_read_errors_become_notices_and_leave_no_card() -> None:
    session = Session()
    for error, code in ((CardExpiredError("x"), "card_expired"), (StripeOnlyCardError("x"), "card_stripe_only"),
                        (CardRemovedError("x"), "card_removed"), (NoCardError("x"), "card_timeout")):
        notice = read_bank_card(StubBankCardReader(error=error), session)
        assert notice is not None and notice.code == code and session.bank_card is None


def test_sign_binds_token_and_masked_pan_only(hospital: FakeHospital, pad: Pad) -> None:
    session = with_patient(hospital)
    session.bank_card = card_data("no-id")
    outcome = sign(hospital, pad.driver, session, pad.keys)
    assert outcome.ok and outcome.binding is not None
    pan = session.bank_card.pan
    assert outcome.binding.masked_pan == pan[:6] + "*" * (len(pan) - 10) + pan[-4:]
    assert pan[-4:] in outcome.notice.text("zh") and pan not in outcome.notice.text("zh")
    # the same card, read again, gives the same token: the hub recognises it without the PAN
    again = Session(identity=session.identity, patient=session.patient, bank_card=card_data("no-id"))
    assert sign(hospital, pad.driver, again, pad.keys).binding == outcome.binding
    assert len(hospital.bindings) == 1


def test_card_of_another_person_is_refused(hospital: FakeHospital, pad: Pad) -> None:
    session = with_patient(hospital)
    session.bank_card = card_data("pse")  # carries 9F61 of another synthetic person
    assert id_cross_check(session.bank_card, session) is not None
    outcome = sign(hospital, pad.driver, session, pad.keys)
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
    binding = sign(hospital, pad.driver, session, pad.keys).binding
    assert binding is not None and load_bindings(hospital, session) is None
    outcome = unbind(hospital, session, binding.binding_id)
    assert outcome.ok and outcome.notice is not None and outcome.notice.code == "unbound"
    assert hospital.bindings == {} and session.bindings == []
    hospital.unreachable = True
    assert load_bindings(hospital, session) is not None
