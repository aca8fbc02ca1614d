"""The maintenance presenter's key ceremony, driven as the screen drives it (sign in, start,
each custodian's component and KCV typed key by key, load) against the EPP simulator on a pty,
with the algorithm taken from the kiosk's [app] settings: 3DES and SM4."""

from __future__ import annotations

from collections.abc import Iterator
from functools import reduce
from pathlib import Path

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from kiosk.app.maintenance_presenter import MaintenancePresenter
from kiosk.app.settings import load_settings
from kiosk.epp import crypto as c
from kiosk.epp import simulator as epp_sim
from kiosk.epp.driver import PinPad
from kiosk.errors import ConfigError
from kiosk.flows.maintenance import PaperStatus, TechnicianGate, hash_credential
from kiosk.serial_transport import open_port

pytestmark = pytest.mark.integration  # the pad is its simulator on a pty

SLOT = 3
# the combined key is the reference key of /work/shared/reference/kiosk-devices.md, whose KCVs
# are published there: the truth does not come from the code under test
REFERENCE_KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
REFERENCE_KCV = {"TDES": "08D7B4", "SM4": "2677F4"}
SOME_COMPONENTS = [bytes.fromhex("3C5A96F00F1E2D3C4B5A697887A5B4C3"), bytes.fromhex("A1B2C3D4E5F60718293A4B5C6D7E8F90")]


def _xor(parts: list[bytes]) -> bytes:
    return reduce(lambda a, b: bytes(x ^ y for x, y in zip(a, b, strict=True)), parts)


def _kcv(algorithm: str, key: bytes) -> str:
    """KCV by `cryptography`, independently of kiosk.epp.crypto: the key over a zero block."""
    cipher = TripleDES(key + key[:8]) if algorithm == "TDES" else algorithms.SM4(key)
    enc = Cipher(cipher, modes.ECB()).encryptor()  # noqa: S305 (a KCV is one ECB block by definition)
    return (enc.update(bytes(cipher.block_size // 8)) + enc.finalize())[:3].hex().upper()


@pytest.fixture
def sim() -> Iterator[epp_sim.EppHandle]:
    handle = epp_sim.start_on_pty()
    yield handle
    handle.stop()


def _presenter(tmp_path: Path, algorithm_setting: str, pad: PinPad) -> MaintenancePresenter:
    cfg = tmp_path / "app.toml"
    cfg.write_text(f'[app]\nmaster_key_algorithm = "{algorithm_setting}"\n'
                   f'[app.technicians]\n1001 = "{hash_credential("1001", "246810")}"\n', "utf-8")
    settings = load_settings(cfg)
    taps = iter(float(i) for i in range(100))
    return MaintenancePresenter(
        TechnicianGate(settings.technicians), selftest=lambda: [], paper=lambda: PaperStatus("ok", "ok"), pad=pad,
        log_files=lambda: [], export_dir=tmp_path, clock=lambda: next(taps), master_slot=SLOT,
        master_algorithm=settings.master_key_algorithm)


def _type(m: MaintenancePresenter, name: str, text: str) -> None:
    m.select_field(name)
    for ch in text:
        m.key(ch)
    assert m.view.fields[name] == text


@pytest.mark.parametrize(("setting", "custodians"), [("TDES", 2), ("sm4", 3)])
def test_ceremony_from_the_screen_loads_the_pad(tmp_path: Path, sim: epp_sim.EppHandle, setting: str,
                                                 custodians: int) -> None:
    algorithm = setting.upper()
    parts = SOME_COMPONENTS[:custodians - 1]
    components = [*parts, _xor([REFERENCE_KEY, *parts])]
    port = open_port(sim.port_url, device="epp")
    try:
        m = _presenter(tmp_path, setting, PinPad(port))
        for _ in range(5):
            m.secret_tap("zh")
        _type(m, "tech_id", "1001")
        _type(m, "tech_pin", "246810")
        m.sign_in()
        assert m.view.screen == "maintenance"

        m.start_ceremony(custodians)
        assert (m.view.screen, m.view.custodian, m.view.custodians) == ("ceremony", 1, custodians)
        _type(m, "auth_key", epp_sim.DEMO_AUTH_KEY.hex().upper())
        for number, component in enumerate(components, start=1):
            assert m.view.custodian == number
            _type(m, "component", component.hex().upper())
            _type(m, "kcv", _kcv(algorithm, component))
            m.accept_component()
            assert m.view.message == "", m.view.message
            assert m.view.rows[-1] == f"{number}: KCV {_kcv(algorithm, component)}"
            assert m.view.fields["component"] == "" and m.view.fields["kcv"] == ""
        assert m.view.active_field == "combined_kcv"
        _type(m, "combined_kcv", REFERENCE_KCV[algorithm])
        m.load_key()

        shown = m.view.message
        master = sim.device._masters[SLOT]  # what the pad holds and computed its KCV from
        assert master.algorithm is c.Algorithm[algorithm] and master.value == REFERENCE_KEY
        assert shown == f"loaded, KCV {_kcv(algorithm, master.value)}" == f"loaded, KCV {REFERENCE_KCV[algorithm]}"
        assert set(m.view.fields.values()) == {""}  # no key material left on the screen
        assert PinPad(port).status().master_keys == 1
    finally:
        port.close()


def test_a_wrong_combined_kcv_is_refused_and_an_unknown_algorithm_setting_is_an_error(
        tmp_path: Path, sim: epp_sim.EppHandle) -> None:
    port = open_port(sim.port_url, device="epp")
    try:
        m = _presenter(tmp_path, "SM4", PinPad(port))
        m.start_ceremony(2)
        _type(m, "auth_key", epp_sim.DEMO_AUTH_KEY.hex().upper())
        for component in (SOME_COMPONENTS[0], _xor([REFERENCE_KEY, SOME_COMPONENTS[0]])):
            _type(m, "component", component.hex().upper())
            _type(m, "kcv", _kcv("SM4", component))
            m.accept_component()
        _type(m, "combined_kcv", REFERENCE_KCV["TDES"])  # the other algorithm's KCV of the same key
        m.load_key()
        assert m.view.message.startswith("refused:"), m.view.message
    finally:
        port.close()
    bad = tmp_path / "bad.toml"
    bad.write_text('[app]\nmaster_key_algorithm = "AES"\n', "utf-8")
    with pytest.raises(ConfigError, match="master_key_algorithm must be TDES or SM4"):
        load_settings(bad)
