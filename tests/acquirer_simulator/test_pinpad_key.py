"""The acquirer simulator opens the key ceremony's sealed hub copy (`--pinpad-key`): files written
by the real ceremony code (provisioning.ceremony), for 3DES and SM4, and a terminal whose PIN key
is given only enciphered under that master key, verified end to end over ISO 8583."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from functools import reduce
from pathlib import Path

import pytest

from acquirer_simulator.__main__ import main
from acquirer_simulator.accounts import AccountsError, Book
from acquirer_simulator.pinpad_key import PASSPHRASE_ENV, PinpadKeyError, open_pinpad_key
from kiosk.epp import crypto as epp
from provisioning.cakey import ScryptCost
from provisioning.ceremony import Algorithm, CeremonyRecord, Custodian, run_ceremony
from provisioning.cli_ceremony import HUB_KEY_ENV
from provisioning.slips import write_slip
from tests.acquirer_simulator.support import CARDS, PIN_KEY, TERMINAL, accounts_doc, run_acquirer
from tests.acquirer_simulator.test_server import _exchange, _purchase

FAST = ScryptCost(n=2**14)
HUB_PASS = "hub pinpad key passphrase"
EPP_ALGORITHM = {Algorithm.TDES: epp.Algorithm.TDES, Algorithm.SM4: epp.Algorithm.SM4}


def _ceremony(tmp_path: Path, algorithm: Algorithm, slot: int = 3) -> tuple[CeremonyRecord, bytes]:
    shown: list[str] = []

    def show(custodian: Custodian, component_hex: str) -> None:
        shown.append(component_hex)

    record = run_ceremony(["保管员甲", "保管员乙"], slot, algorithm, show=show, write_slip=write_slip,
                          slips_dir=tmp_path / "slips", hub_copy=tmp_path / "hub" / f"master-slot-{slot:02d}.json",
                          hub_passphrase=HUB_PASS.encode(), cost=FAST)
    combined = reduce(lambda a, b: bytes(x ^ y for x, y in zip(a, b, strict=True)), map(bytes.fromhex, shown))
    return record, combined


@pytest.mark.parametrize("algorithm", [Algorithm.TDES, Algorithm.SM4])
def test_opens_the_ceremonys_hub_copy(tmp_path: Path, algorithm: Algorithm) -> None:
    (tmp_path / "hub").mkdir()
    record, combined = _ceremony(tmp_path, algorithm, slot=5)
    data = record.hub_copy.read_bytes()
    master = open_pinpad_key(data, "copy", HUB_PASS.encode())
    assert (master.slot, master.algorithm, master.kcv, master.key) == (5, algorithm.value, record.combined_kcv,
                                                                       combined)
    assert combined.hex() not in repr(master).lower()
    # the PIN key as the kiosk's key loading enciphers it under the master key comes back
    wrapped = epp.encrypt_ecb(EPP_ALGORITHM[algorithm], combined, PIN_KEY)
    assert master.unwrap(wrapped) == PIN_KEY
    doc = accounts_doc()
    doc["terminals"][TERMINAL] = {"pin_key_under_master": wrapped.hex(), "algorithm": algorithm.value}
    (tmp_path / "accounts.json").write_text(json.dumps(doc))
    terminal = Book.read(tmp_path / "accounts.json", master).terminals[TERMINAL]
    assert (terminal.pin_key, terminal.algorithm) == (PIN_KEY, algorithm.value)
    with pytest.raises(AccountsError, match="needs --pinpad-key"):
        Book.read(tmp_path / "accounts.json")


def test_wrong_passphrase_altered_header_and_hostile_cost_are_refused(tmp_path: Path) -> None:
    (tmp_path / "hub").mkdir()
    record, _ = _ceremony(tmp_path, Algorithm.SM4)
    data = record.hub_copy.read_bytes()
    with pytest.raises(PinpadKeyError, match="wrong passphrase"):
        open_pinpad_key(data, "copy", b"not the passphrase")
    doc = json.loads(data)
    for field, value in (("slot", 4), ("algorithm", "tdes"), ("combined_kcv", "000000")):
        altered = {**doc, "header": {**doc["header"], field: value}}
        with pytest.raises(PinpadKeyError, match="altered"):
            open_pinpad_key(json.dumps(altered).encode(), "copy", HUB_PASS.encode())
    hostile = {**doc, "header": {**doc["header"], "n": 2**30}}
    with pytest.raises(PinpadKeyError, match="scrypt parameters out of range"):
        open_pinpad_key(json.dumps(hostile).encode(), "copy", HUB_PASS.encode())
    for bad in (b"{}", b"not json", json.dumps({**doc, "ciphertext": base64.b64encode(b"x").decode()}).encode()):
        with pytest.raises(PinpadKeyError):
            open_pinpad_key(bad, "copy", HUB_PASS.encode())


@pytest.mark.integration
def test_simulator_verifies_pins_with_the_pin_key_under_the_ceremonys_master_key(tmp_path: Path) -> None:
    (tmp_path / "hub").mkdir()
    record, combined = _ceremony(tmp_path, Algorithm.TDES)
    doc = accounts_doc()
    doc["terminals"][TERMINAL] = {**doc["terminals"][TERMINAL], "algorithm": "tdes",
                                  "pin_key_under_master": epp.encrypt_ecb(epp.Algorithm.TDES, combined, PIN_KEY).hex()}
    del doc["terminals"][TERMINAL]["pin_key"]
    assert PASSPHRASE_ENV == HUB_KEY_ENV  # the technician sets one variable for both
    with run_acquirer(tmp_path / "acq", 0.5, accounts_json=doc, extra_args=("--pinpad-key", str(record.hub_copy)),
                      env={PASSPHRASE_ENV: HUB_PASS}) as acquirer:
        assert _exchange(acquirer, _purchase(CARDS["approve"], "000001"))["39"] == "00"
        assert _exchange(acquirer, _purchase(CARDS["approve"], "000002", pin="111111"))["39"] == "55"
    log = (tmp_path / "acq" / "acquirer.log").read_text()
    assert f"slot 3, tdes, KCV {record.combined_kcv}" in log and combined.hex() not in log.lower()


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "hub").mkdir()
    record, _ = _ceremony(tmp_path, Algorithm.TDES)
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps(accounts_doc()))
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    with pytest.raises(SystemExit) as usage:
        main(["--accounts", str(accounts), "--pinpad-key", str(record.hub_copy)])
    assert usage.value.code == 2 and PASSPHRASE_ENV in capsys.readouterr().err
    monkeypatch.setenv(PASSPHRASE_ENV, "wrong")
    assert main(["--accounts", str(accounts), "--pinpad-key", str(record.hub_copy)]) == 1
    assert "wrong passphrase" in capsys.readouterr().err
    out = subprocess.run([sys.executable, "-m", "acquirer_simulator", "--help"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0 and "--pinpad-key" in out.stdout
