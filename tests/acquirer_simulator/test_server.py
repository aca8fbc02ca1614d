"""The simulator process over TCP: MAC checked, PIN verified, duplicates refused, reversals applied once."""

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


def _purchase(pan: str, stan: str, amount: int = 3500, pin: str = "246810") -> dict[str, str]:
    return {"t": "0200", "2": pan, "3": "000000", "4": f"{amount:012d}", "7": "1203120000", "11": stan,
            "14": "3012", "41": TERMINAL, "52": pin_block(pan, pin).hex().upper()}


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
