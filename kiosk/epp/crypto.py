"""EPP cryptography (pure): 3DES/SM4 block ops, KCV, ISO 9564 PIN blocks, ANSI X9.19 MAC.

Used inside the PIN-pad simulator (the device side) and by tests that check published
vectors; the host driver never calls the PIN-block functions: it never holds a PIN.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

DES_BLOCK = 8
SM4_BLOCK = 16
TDES_KEY_LENGTHS = (8, 16, 24)
SM4_KEY_LENGTH = 16
KCV_BYTES = 4  # KCV returned by the EPP; key servers often give only the first 3 bytes
PAN_FIELD_DIGITS = 12
PIN_MIN_DIGITS = 4
PIN_MAX_DIGITS = 12
ISO0_FORMAT = 0
ISO3_FORMAT = 3
ISO0_FILL = "F"
ISO3_FILL_CHARS = "ABCDEF"
# The SM4 PIN block is 16 bytes; its exact layout belongs to the acquirer's spec and is not
# verified. Our assumption, used everywhere (docs/kiosk-devices.md):
SM4_PIN_BLOCK_LAYOUT = (
    "ISO 9564 format 0/3 widened to 32 nibbles: PIN field = format nibble, length nibble, PIN digits, "
    "fill (F for format 0, random A-F for format 3) to 32 nibbles; PAN field = 20 zero nibbles + the "
    "12-digit PAN field; block = PIN field XOR PAN field, enciphered with SM4-ECB"
)
SM4_PIN_FIELD_NIBBLES = 32


class Algorithm(enum.Enum):
    TDES = "D"
    SM4 = "S"

    @property
    def block_size(self) -> int:
        return DES_BLOCK if self is Algorithm.TDES else SM4_BLOCK


def _tdes_key(key: bytes) -> bytes:
    if len(key) not in TDES_KEY_LENGTHS:
        raise ValueError("3DES key must be 8, 16 or 24 bytes")
    return {8: key * 3, 16: key + key[:8], 24: key}[len(key)]


def _cipher(algorithm: Algorithm, key: bytes) -> Cipher:
    if algorithm is Algorithm.SM4:
        if len(key) != SM4_KEY_LENGTH:
            raise ValueError("SM4 key must be 16 bytes")
        return Cipher(algorithms.SM4(key), modes.ECB())
    return Cipher(TripleDES(_tdes_key(key)), modes.ECB())


def encrypt_ecb(algorithm: Algorithm, key: bytes, data: bytes) -> bytes:
    if len(data) % algorithm.block_size:
        raise ValueError("data is not a whole number of blocks")
    enc = _cipher(algorithm, key).encryptor()
    return enc.update(data) + enc.finalize()


def decrypt_ecb(algorithm: Algorithm, key: bytes, data: bytes) -> bytes:
    if len(data) % algorithm.block_size:
        raise ValueError("data is not a whole number of blocks")
    dec = _cipher(algorithm, key).decryptor()
    return dec.update(data) + dec.finalize()


def kcv(algorithm: Algorithm, key: bytes, length: int = KCV_BYTES) -> bytes:
    """Key check value: E_K(zero block) truncated."""
    return encrypt_ecb(algorithm, key, bytes(algorithm.block_size))[:length]


def xor_bytes(a: bytes, b: bytes) -> bytes:
    if len(a) != len(b):
        raise ValueError("XOR of different lengths")
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def pan_field(pan: str) -> str:
    """The 12 rightmost PAN digits excluding the check digit."""
    if not pan.isascii() or not pan.isdigit() or len(pan) < PAN_FIELD_DIGITS + 1:
        raise ValueError("PAN must be at least 13 digits")
    return pan[-PAN_FIELD_DIGITS - 1:-1]


def _pin_field(pin: str, fmt: int, nibbles: int, rand: Callable[[int], int]) -> str:
    if not pin.isascii() or not pin.isdigit() or not PIN_MIN_DIGITS <= len(pin) <= PIN_MAX_DIGITS:
        raise ValueError("PIN must be 4 to 12 digits")
    if fmt == ISO0_FORMAT:
        fill = ISO0_FILL * (nibbles - 2 - len(pin))
    elif fmt == ISO3_FORMAT:
        fill = "".join(ISO3_FILL_CHARS[rand(len(ISO3_FILL_CHARS))] for _ in range(nibbles - 2 - len(pin)))
    else:
        raise ValueError("PIN block format must be 0 or 3")
    return f"{fmt:X}{len(pin):X}{pin}{fill}"


def clear_pin_block(pin: str, pan12: str, fmt: int, algorithm: Algorithm,
                    rand: Callable[[int], int] = secrets.randbelow) -> bytes:
    """ISO 9564 format 0/3 clear PIN block (8 bytes; 16 for SM4, see SM4_PIN_BLOCK_LAYOUT)."""
    if len(pan12) != PAN_FIELD_DIGITS or not pan12.isascii() or not pan12.isdigit():
        raise ValueError("PAN field must be 12 digits")
    nibbles = 2 * algorithm.block_size
    pin_part = bytes.fromhex(_pin_field(pin, fmt, nibbles, rand))
    pan_part = bytes.fromhex(pan12.rjust(nibbles, "0"))
    return xor_bytes(pin_part, pan_part)


def encrypted_pin_block(pin: str, pan12: str, fmt: int, algorithm: Algorithm, key: bytes,
                        rand: Callable[[int], int] = secrets.randbelow) -> bytes:
    return encrypt_ecb(algorithm, key, clear_pin_block(pin, pan12, fmt, algorithm, rand))


def _zero_pad(data: bytes, block: int) -> bytes:
    return data + bytes(-len(data) % block) if data else bytes(block)


def x919_mac(key: bytes, data: bytes) -> bytes:
    """ANSI X9.19 / ISO 9797-1 alg 3 retail MAC, zero padding, 16-byte key."""
    if len(key) != 16:
        raise ValueError("X9.19 needs a 16-byte key")
    left, right = key[:8], key[8:]
    state = bytes(DES_BLOCK)
    padded = _zero_pad(data, DES_BLOCK)
    for i in range(0, len(padded), DES_BLOCK):
        state = encrypt_ecb(Algorithm.TDES, left, xor_bytes(state, padded[i:i + DES_BLOCK]))
    return encrypt_ecb(Algorithm.TDES, left, decrypt_ecb(Algorithm.TDES, right, state))


def sm4_cbc_mac(key: bytes, data: bytes) -> bytes:
    """SM4 CBC-MAC, zero IV, zero padding (full 16-byte last block)."""
    state = bytes(SM4_BLOCK)
    padded = _zero_pad(data, SM4_BLOCK)
    for i in range(0, len(padded), SM4_BLOCK):
        state = encrypt_ecb(Algorithm.SM4, key, xor_bytes(state, padded[i:i + SM4_BLOCK]))
    return state
