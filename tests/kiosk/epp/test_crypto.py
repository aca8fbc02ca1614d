"""Published vectors for the EPP cryptography (GB/T 32907, ISO 9564, X9.19, KCV)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from kiosk.epp import crypto as c

KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
TDES_KCV = bytes.fromhex("08D7B4")
TDES_ZERO_BLOCK = bytes.fromhex("08D7B4FB629D0885")
SM4_KCV = bytes.fromhex("2677F46B")
SM4_CIPHERTEXT = bytes.fromhex("681edf34d206965e86b3e94f536e4246")  # GB/T 32907 example 1
SM4_MILLION = bytes.fromhex("595298c7c6fd271f0402f804c33d3f66")  # GB/T 32907 example 2
ISO0_PIN, ISO0_PAN, ISO0_BLOCK = "1234", "43219876543210987", bytes.fromhex("0412AC89ABCDEF67")
X919_DATA, X919_MAC = b"Now is the time for all ", bytes.fromhex("A1C72E74EA3FA9B6")


def test_kcv_vectors() -> None:
    assert c.kcv(c.Algorithm.TDES, KEY, 3) == TDES_KCV
    assert c.encrypt_ecb(c.Algorithm.TDES, KEY, bytes(8)) == TDES_ZERO_BLOCK
    assert c.kcv(c.Algorithm.SM4, KEY) == SM4_KCV


def test_sm4_vector() -> None:
    assert c.encrypt_ecb(c.Algorithm.SM4, KEY, KEY) == SM4_CIPHERTEXT
    assert c.decrypt_ecb(c.Algorithm.SM4, KEY, SM4_CIPHERTEXT) == KEY


@pytest.mark.slow
def test_sm4_million_iterations() -> None:
    """GB/T 32907 example 2 through our own encrypt_ecb: a key schedule or block bug shows here."""
    block = KEY
    for _ in range(1_000_000):
        block = c.encrypt_ecb(c.Algorithm.SM4, KEY, block)
    assert block == SM4_MILLION


def test_iso0_pin_block_vector() -> None:
    assert c.pan_field(ISO0_PAN) == "987654321098"
    assert c.clear_pin_block(ISO0_PIN, c.pan_field(ISO0_PAN), c.ISO0_FORMAT, c.Algorithm.TDES) == ISO0_BLOCK


def test_iso3_fill_is_random_a_to_f() -> None:
    block = c.clear_pin_block("1234", "000000000000", c.ISO3_FORMAT, c.Algorithm.TDES, rand=lambda n: 0)
    assert block.hex().upper() == "341234AAAAAAAAAA"


def test_sm4_pin_block_layout() -> None:
    """The 16-byte SM4 PIN block: ISO format 0 widened to 32 nibbles, XOR the PAN field, SM4-ECB."""
    block = c.clear_pin_block("1234", "987654321098", c.ISO0_FORMAT, c.Algorithm.SM4)
    pin_field = bytes.fromhex("041234" + "F" * 26)
    pan_field = bytes.fromhex("0" * 20 + "987654321098")
    assert block == c.xor_bytes(pin_field, pan_field) and len(block) == 16
    enciphered = c.encrypted_pin_block("1234", "987654321098", c.ISO0_FORMAT, c.Algorithm.SM4, KEY)
    independent = Cipher(algorithms.SM4(KEY), modes.ECB()).decryptor()
    assert independent.update(enciphered) + independent.finalize() == block


@pytest.mark.parametrize("pin", ["1234", "123456", "123456789012"])
def test_sm4_format3_pin_block_recovers_the_pin_with_a_to_f_fill(pin: str) -> None:
    pan12 = "987654321098"
    enciphered = c.encrypted_pin_block(pin, pan12, c.ISO3_FORMAT, c.Algorithm.SM4, KEY)
    clear = c.decrypt_ecb(c.Algorithm.SM4, KEY, enciphered)
    field = c.xor_bytes(clear, bytes.fromhex(pan12.rjust(32, "0"))).hex().upper()
    assert field[0] == "3" and int(field[1], 16) == len(pin) and field[2:2 + len(pin)] == pin
    fill = field[2 + len(pin):]
    assert len(fill) == 30 - len(pin) and set(fill) <= set("ABCDEF")
    # the fill is random: the same PIN and PAN do not give the same block twice
    assert c.encrypted_pin_block(pin, pan12, c.ISO3_FORMAT, c.Algorithm.SM4, KEY) != enciphered


def test_x919_vector() -> None:
    assert c.x919_mac(KEY, X919_DATA) == X919_MAC


@pytest.mark.parametrize("pin", ["123", "1234567890123", "12a4"])
def test_bad_pins_are_refused(pin: str) -> None:
    with pytest.raises(ValueError):
        c.clear_pin_block(pin, "000000000000", c.ISO0_FORMAT, c.Algorithm.TDES)
