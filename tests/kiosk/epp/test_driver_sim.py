"""PIN pad driver against the simulator: published vectors end to end, ceremony, lockout."""

from __future__ import annotations

import pytest

from kiosk.epp import crypto as c
from kiosk.epp import protocol as pr
from kiosk.epp.driver import KeyComponent, PinPad, tdes_responder
from kiosk.epp.framing import KeyEvent
from kiosk.epp.simulator import EppHandle
from kiosk.errors import DeviceStatusError, SecurityError

from .conftest import AUTH_KEY
from .test_crypto import ISO0_BLOCK, ISO0_PAN, KEY, SM4_CIPHERTEXT, SM4_KCV, TDES_KCV, X919_DATA, X919_MAC

pytestmark = pytest.mark.integration
MASTER_TDES = bytes.fromhex("11" * 16)
MASTER_SM4 = bytes.fromhex("22" * 16)
MASTER, PIN_SLOT, MAC_SLOT, DATA_SLOT = 1, 2, 3, 4


def _load_master(pad: PinPad, key: bytes, alg: c.Algorithm, slot: int = MASTER) -> None:
    pad.load_master_key(slot, alg, [KeyComponent(key, c.kcv(alg, key))], c.kcv(alg, key, 3))


def _load_work(pad: PinPad, master: bytes, alg: c.Algorithm, slot: int, usage: pr.Usage, key: bytes) -> bytes:
    return pad.load_work_key(MASTER, slot, usage, c.encrypt_ecb(alg, master, key), c.kcv(alg, key, 3))


def test_self_test_and_status(pad: PinPad) -> None:
    assert pad.self_test() == "PIN pad ZT598-SIM 1.0: 0 master key(s)"
    status = pad.status()
    assert status.authenticated and not status.locked and status.attempts_left == 3


def test_kcv_vectors_through_the_pad(pad: PinPad) -> None:
    assert pad.load_master_key(1, c.Algorithm.TDES, [KeyComponent(KEY, TDES_KCV)], TDES_KCV)[:3] == TDES_KCV
    assert pad.load_master_key(2, c.Algorithm.SM4, [KeyComponent(KEY, SM4_KCV)], SM4_KCV) == SM4_KCV


def test_ceremony_three_components(pad: PinPad) -> None:
    parts = [bytes.fromhex("0F" * 16), bytes.fromhex("F0" * 16), KEY]
    combined = c.xor_bytes(c.xor_bytes(parts[0], parts[1]), parts[2])
    comps = [KeyComponent(p, c.kcv(c.Algorithm.TDES, p, 3)) for p in parts]
    kcv = pad.load_master_key(5, c.Algorithm.TDES, comps, c.kcv(c.Algorithm.TDES, combined, 3))
    assert kcv == c.kcv(c.Algorithm.TDES, combined)
    assert "value" not in repr(comps[0]) and parts[0].hex() not in repr(comps[0])


def test_ceremony_typo_is_caught_before_sending(pad: PinPad) -> None:
    bad = [KeyComponent(KEY, TDES_KCV), KeyComponent(MASTER_TDES, b"\x00\x00\x00")]
    with pytest.raises(SecurityError, match="component 2"):
        pad.load_master_key(6, c.Algorithm.TDES, bad, TDES_KCV)
    assert pad.status().master_keys == 0


def test_ceremony_wrong_combined_kcv(pad: PinPad) -> None:
    comps = [KeyComponent(KEY, TDES_KCV), KeyComponent(MASTER_TDES, c.kcv(c.Algorithm.TDES, MASTER_TDES))]
    with pytest.raises(SecurityError, match="reload"):
        pad.load_master_key(6, c.Algorithm.TDES, comps, TDES_KCV)


def test_sm4_vector_through_data_key(pad: PinPad) -> None:
    _load_master(pad, MASTER_SM4, c.Algorithm.SM4)
    assert _load_work(pad, MASTER_SM4, c.Algorithm.SM4, DATA_SLOT, pr.Usage.DATA, KEY) == SM4_KCV
    assert pad.encrypt(DATA_SLOT, KEY) == SM4_CIPHERTEXT


def test_x919_vector_through_mac_key(pad: PinPad) -> None:
    _load_master(pad, MASTER_TDES, c.Algorithm.TDES)
    _load_work(pad, MASTER_TDES, c.Algorithm.TDES, MAC_SLOT, pr.Usage.MAC, KEY)
    assert pad.mac(MAC_SLOT, X919_DATA) == X919_MAC


def test_iso0_vector_through_pin_entry(pad: PinPad, epp_sim: EppHandle) -> None:
    _load_master(pad, MASTER_TDES, c.Algorithm.TDES)
    _load_work(pad, MASTER_TDES, c.Algorithm.TDES, PIN_SLOT, pr.Usage.PIN, KEY)
    pad.start_pin_entry(4, 6, 30)
    epp_sim.press("1", "2", "3", "4", "ENTER")
    events = [pad.next_key_event(1.0) for _ in range(5)]
    assert events == [KeyEvent.DIGIT] * 4 + [KeyEvent.ENTER]
    block = pad.pin_block(PIN_SLOT, ISO0_PAN)
    assert c.decrypt_ecb(c.Algorithm.TDES, KEY, block) == ISO0_BLOCK
    with pytest.raises(DeviceStatusError, match="illegal data"):
        pad.pin_block(PIN_SLOT, ISO0_PAN)  # one PIN block per entry


def test_iso3_and_sm4_pin_blocks(pad: PinPad, epp_sim: EppHandle) -> None:
    _load_master(pad, MASTER_SM4, c.Algorithm.SM4)
    _load_work(pad, MASTER_SM4, c.Algorithm.SM4, PIN_SLOT, pr.Usage.PIN, KEY)
    pad.start_pin_entry()
    epp_sim.press("1", "2", "3", "4", "ENTER")
    while pad.next_key_event(1.0) is not KeyEvent.ENTER:
        pass
    clear = c.decrypt_ecb(c.Algorithm.SM4, KEY, pad.pin_block(PIN_SLOT, ISO0_PAN, pr.PinFormat.ISO3))
    pin_field = c.xor_bytes(clear, bytes.fromhex("0" * 20 + "987654321098")).hex().upper()
    assert pin_field[:6] == "341234" and set(pin_field[6:]) <= set("ABCDEF") and len(pin_field) == 32


def test_clear_cancel_min_max_and_timeout(pad: PinPad, epp_sim: EppHandle) -> None:
    pad.start_pin_entry(4, 4, 1)
    epp_sim.press("1", "2", "ENTER", "CLEAR", "1", "2", "3", "4", "5")
    events = [pad.next_key_event(0.5) for _ in range(6)]
    assert events == [KeyEvent.DIGIT, KeyEvent.DIGIT, KeyEvent.CLEAR] + [KeyEvent.DIGIT] * 3
    assert pad.next_key_event(0.5) is KeyEvent.DIGIT and pad.digits_entered == 4
    assert pad.next_key_event(1.5) is KeyEvent.TIMEOUT and pad.digits_entered == 0
    pad.start_pin_entry(4, 6, 30)
    epp_sim.press("9", "CANCEL")
    assert [pad.next_key_event(0.5) for _ in range(2)] == [KeyEvent.DIGIT, KeyEvent.CANCEL]


def test_work_key_kcv_mismatch_is_refused_and_not_stored(pad: PinPad) -> None:
    _load_master(pad, MASTER_TDES, c.Algorithm.TDES)
    with pytest.raises(DeviceStatusError) as err:
        pad.load_work_key(MASTER, MAC_SLOT, pr.Usage.MAC, c.encrypt_ecb(c.Algorithm.TDES, MASTER_TDES, KEY),
                          b"\x00\x00\x00")
    assert err.value.status == pr.Rtn.KCV_ERROR
    with pytest.raises(DeviceStatusError, match="no such key"):
        pad.mac(MAC_SLOT, X919_DATA)


def test_work_key_without_master(pad: PinPad) -> None:
    with pytest.raises(DeviceStatusError, match="no master key"):
        pad.load_work_key(9, PIN_SLOT, pr.Usage.PIN, bytes(16), b"\x00\x00\x00")


def test_lockout_after_failed_authentications(epp_sim: EppHandle, open_pty_port) -> None:
    pad = PinPad(open_pty_port(epp_sim.port_url, "epp"))
    wrong = tdes_responder(bytes(16))
    for expected in (pr.Rtn.AUTH_FAILED, pr.Rtn.AUTH_FAILED, pr.Rtn.AUTH_LOCKED):
        with pytest.raises(DeviceStatusError) as err:
            pad.authenticate(wrong)
        assert err.value.status == expected
    with pytest.raises(DeviceStatusError, match="locked"):
        pad.authenticate(tdes_responder(AUTH_KEY))
    with pytest.raises(DeviceStatusError, match="locked"):
        pad.load_master_key(1, c.Algorithm.TDES, [KeyComponent(KEY, TDES_KCV)], TDES_KCV)
    assert pad.status().locked and "LOCKED" in pad.self_test()


def test_master_key_needs_authentication(pad: PinPad) -> None:
    pad.logout()
    with pytest.raises(DeviceStatusError, match="authentication failed"):
        pad.load_master_key(1, c.Algorithm.TDES, [KeyComponent(KEY, TDES_KCV)], TDES_KCV)
