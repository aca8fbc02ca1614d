"""PIN recovery at the acquirer, against blocks the PIN pad's own code builds (kiosk.epp.crypto)."""

from __future__ import annotations

from acquirer_simulator.pin import SM4, TDES, PinBlockError, pin_matches, recover_pin
from kiosk.epp.crypto import Algorithm, encrypted_pin_block, pan_field

KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
PAN = "43219876543210987"


def test_format_0_and_3_under_3des_and_sm4() -> None:
    for fmt in (0, 3):
        block = encrypted_pin_block("1234", pan_field(PAN), fmt, Algorithm.TDES, KEY)
        assert recover_pin(TDES, KEY, block, PAN) == "1234"
        block = encrypted_pin_block("123456", pan_field(PAN), fmt, Algorithm.SM4, KEY)
        assert recover_pin(SM4, KEY, block, PAN) == "123456"


def test_wrong_pin_wrong_key_and_wrong_pan_do_not_match() -> None:
    block = encrypted_pin_block("1234", pan_field(PAN), 0, Algorithm.TDES, KEY)
    assert pin_matches(TDES, KEY, block, PAN, "1234")
    assert not pin_matches(TDES, KEY, block, PAN, "4321")
    assert not pin_matches(TDES, bytes(16), block, PAN, "1234")
    assert not pin_matches(TDES, KEY, block, "43219876543219987", "1234")


def test_a_block_of_the_wrong_size_is_an_error() -> None:
    try:
        recover_pin(SM4, KEY, bytes(8), PAN)
    except PinBlockError:
        return
    raise AssertionError("an 8-byte block was accepted for SM4")
