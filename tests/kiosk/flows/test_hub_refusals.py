"""Hub refusals are worded on the kiosk from the hub's stable code, in her language: every code the
hub's services, the RPC layer and the kiosk client can raise has a zh and an en sentence, and the
hub's own (English) message never reaches the Chinese screen."""

from __future__ import annotations

import ast
import random
import re
from pathlib import Path

import pytest

from kiosk.flows import booking
from kiosk.flows.messages import HUB_REFUSALS, Lang, hub_refused
from kiosk.flows.session import Session
from kiosk.hospital.api import Booking, HospitalError
from kiosk.idcard.synthetic import synthetic_identity
from tests.kiosk.fake_hospital import FakeHospital
from tests.kiosk.flows.conftest import TODAY

ROOT = Path(__file__).resolve().parents[3]
# where a refusal code is born: hub services (ServiceError, error dicts), the RPC client, the kiosk client
SOURCES = sorted((ROOT / "central_hub" / "services").glob("*.py")) + [
    ROOT / "mch_link" / "rpc.py", ROOT / "kiosk" / "hospital" / "client.py", ROOT / "kiosk" / "hospital" / "api.py"]
RAISERS = {"ServiceError", "RpcRefused", "HospitalError"}
LATIN = re.compile(r"[A-Za-z]{3,}")


def _strings(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _codes_in(tree: ast.AST) -> set[str]:
    """String constants in the code argument of ServiceError/RpcRefused/HospitalError(...) (and of
    super().__init__ inside their subclasses), and the values of "code" keys in error dicts."""
    codes: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(isinstance(b, ast.Name) and b.id in RAISERS for b in node.bases):
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "__init__" \
                        and call.args:
                    codes |= _strings(call.args[0])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in RAISERS and node.args:
            codes |= _strings(node.args[0])
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "code" and value is not None:
                    codes |= _strings(value)
    return codes


def raised_codes() -> set[str]:
    codes: set[str] = set()
    for path in SOURCES:
        codes |= _codes_in(ast.parse(path.read_text("utf-8"), str(path)))
    return codes


def test_the_walk_finds_the_codes_of_a_source_it_is_given() -> None:
    src = ('class E(ServiceError):\n    def __init__(self):\n        super().__init__("sub-code", "m")\n'
           'def f(x):\n    raise ServiceError("a" if x else "b", "msg")\n'
           'def g():\n    return False, {"code": "dict-code", "message": "m"}\n'
           'def h(r):\n    raise RpcRefused(r.code or "fallback", "")\n')
    assert _codes_in(ast.parse(src)) == {"sub-code", "a", "b", "dict-code", "fallback"}


def test_every_code_the_hub_and_the_link_can_refuse_with_is_worded_in_both_languages() -> None:
    codes = raised_codes()
    missing = sorted(codes - set(HUB_REFUSALS))
    assert not missing, f"refusal codes with no kiosk wording: {missing}"
    for code in codes:
        zh, en = HUB_REFUSALS[code]
        assert re.search(r"[\u4e00-\u9fff]", zh) and not LATIN.search(zh), code
        assert en and not re.search(r"[\u4e00-\u9fff]", en), code


def test_the_catalogue_holds_no_code_that_nothing_raises() -> None:
    assert sorted(set(HUB_REFUSALS) - raised_codes()) == []


def test_an_unknown_code_gets_a_generic_sentence_with_the_code_in_each_language() -> None:
    notice = hub_refused("brand-new-code")
    assert "brand-new-code" in notice.text("zh") and "请到人工窗口" in notice.text("zh")
    assert "brand-new-code" in notice.text("en") and "staffed window" in notice.text("en")


class _SlotJustTaken(FakeHospital):
    """The hub's answer when another kiosk took the last place first."""

    def hold_slot(self, patient_id: str, slot_id: str, *, idempotency_key: str) -> Booking:
        raise HospitalError("slot-full", "this slot has just been taken; choose another")


@pytest.mark.parametrize(("lang", "told"), [("zh", "该号源刚刚被约满，请选择其他时间。"),
                                            ("en", "This slot has just been taken. Please choose another.")])
def test_a_refused_hold_is_told_in_her_language_not_in_the_hubs_words(lang: Lang, told: str, session: Session) -> None:
    hospital = _SlotJustTaken(today=TODAY)
    who = synthetic_identity(random.Random(12))
    session.patient = hospital.add_patient(who.id_number, who.name, who.birth_date)
    held = booking.hold(hospital, session, next(iter(hospital.slots.values())))
    assert held.booking is None
    assert held.notice.text(lang) == told
