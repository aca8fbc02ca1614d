"""The simulator process over TCP: MAC checked, PIN verified, duplicates refused, reversals applied once,
account verification (0100) without a charge, cardholder lockout after 3 wrong PINs, terminal MAC."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from central_hub.services import iso8583
from tests.acquirer_simulator.support import (
    CARDS,
    MAC_KEY,
    PIN_KEY,
    TERMINAL,
    Acquirer,
    pin_block,
    run_acquirer,
    terminal_mac,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def acquirer(tmp_path: Path):  # noqa: ANN201
    with run_acquirer(tmp_path, late_s=0.5) as a:
        yield a


def _exchange(a: Acquirer, doc: dict[str, str], key: bytes = MAC_KEY) -> dict[str, str]:
    with socket.create_connection((a.host, a.port), 2) as sock:
        sock.settimeout(3)
        iso8583.send_frame(sock, iso8583.encode(doc, key))
        return iso8583.decode(iso8583.recv_frame(sock), MAC_KEY)


def _purchase(pan: str, stan: str, amount: int = 3500, pin: str = "246810", mti: str = "0200",
              code: str = "000000") -> dict[str, str]:
    block = pin_block(pan, pin).hex().upper()
    return {"t": mti, "2": pan, "3": code, "4": f"{amount:012d}", "7": "1203120000", "11": stan,
            "14": "3012", "41": TERMINAL, "52": block, "63": terminal_mac(code, amount, pan, "3012", block)}


def _verify(pan: str, stan: str, pin: str = "246810") -> dict[str, str]:
    return _purchase(pan, stan, 0, pin, "0100", "330000")


def test_approve_charges_once_and_a_duplicate_is_refused(acquirer: Acquirer) -> None:
    pan = CARDS["approve"]
    answer = _exchange(acquirer, _purchase(pan, "000001"))
    assert answer["t"] == "0210" and answer["39"] == "00" and len(answer["38"]) == 6
    assert acquirer.balance(pan) == 1_000_000 - 3500
    assert _exchange(acquirer, _purchase(pan, "000001"))["39"] == "94"
    assert acquirer.balance(pan) == 1_000_000 - 3500


def test_wrong_pin_insufficient_funds_scripted_decline_and_bad_mac(acquirer: Acquirer) -> None:
    assert _exchange(acquirer, _purchase(CARDS["approve"], "000002", pin="111111"))["39"] == "55"
    assert _exchange(acquirer, _purchase(CARDS["poor"], "000003"))["39"] == "51"
    assert _exchange(acquirer, _purchase(CARDS["refuse"], "000004"))["39"] == "05"
    assert _exchange(acquirer, _purchase(CARDS["approve"], "000005"), key=PIN_KEY)["39"] == "A0"
    assert acquirer.balance(CARDS["approve"]) == 1_000_000


def test_reversal_restores_a_charge_once(acquirer: Acquirer) -> None:
    pan = CARDS["approve"]
    _exchange(acquirer, _purchase(pan, "000006"))
    reversal = {**_purchase(pan, "000006"), "t": "0400", "90": "0200000006".ljust(42, "0")}
    del reversal["52"]
    for _ in range(2):
        assert _exchange(acquirer, reversal)["t"] == "0410"
    assert acquirer.balance(pan) == 1_000_000
    assert "".join(str(e) for e in acquirer.journal()["journal"]).count(pan) == 0  # masked only


def test_verification_checks_the_pin_and_charges_nothing(acquirer: Acquirer) -> None:
    pan = CARDS["approve"]
    answer = _exchange(acquirer, _verify(pan, "000101"))
    assert (answer["t"], answer["39"], answer["3"]) == ("0110", "00", "330000") and "38" not in answer
    assert _exchange(acquirer, _verify(pan, "000102", pin="999999"))["39"] == "55"
    assert _exchange(acquirer, _purchase(pan, "000103", 0, mti="0100"))["39"] == "12"  # not a verification
    assert _exchange(acquirer, {**_verify(pan, "000104"), "4": "000000000100"})["39"] == "12"  # never an amount
    assert acquirer.balance(pan) == 1_000_000 and acquirer.events("charge") == []
    assert [e["code"] for e in acquirer.events("verify")] == ["00", "55", "12", "12"]


def test_three_wrong_pins_lock_the_card_for_verification_and_payment(acquirer: Acquirer) -> None:
    pan = CARDS["lock"]
    assert _exchange(acquirer, _verify(pan, "000201", pin="111111"))["39"] == "55"
    assert _exchange(acquirer, _verify(pan, "000202"))["39"] == "00"  # a right PIN resets the count
    codes = [_exchange(acquirer, _verify(pan, f"00021{i}", pin="111111"))["39"] for i in range(2)]
    codes.append(_exchange(acquirer, _purchase(pan, "000213", pin="111111"))["39"])  # payments count too
    assert codes == ["55", "55", "75"]
    assert _exchange(acquirer, _verify(pan, "000214"))["39"] == "75"  # locked: the right PIN no longer helps
    assert _exchange(acquirer, _purchase(pan, "000215"))["39"] == "75"
    assert acquirer.balance(pan) == 1_000_000
    assert _exchange(acquirer, _verify(CARDS["approve"], "000216"))["39"] == "00"  # other cards are not locked


def test_terminal_mac_must_cover_what_the_pin_pad_signed(acquirer: Acquirer) -> None:
    pan = CARDS["approve"]
    signed = _purchase(pan, "000301", 3500)
    assert _exchange(acquirer, {**signed, "4": f"{35000:012d}"})["39"] == "A0"  # amount changed on the way
    assert _exchange(acquirer, {k: v for k, v in signed.items() if k != "63"})["39"] == "A0"  # no terminal MAC
    forged = terminal_mac("000000", 3500, pan, "3012", signed["52"], key=MAC_KEY)  # the hub's key is not the TAK
    assert _exchange(acquirer, {**signed, "63": forged, "11": "000302"})["39"] == "A0"
    assert acquirer.balance(pan) == 1_000_000
    assert _exchange(acquirer, {**signed, "11": "000303"})["39"] == "00"
