"""PIN verification on the acquirer's side (pure): decipher the PIN block under the terminal's PIN
key from the key ceremony and recover the PIN (ISO 9564 format 0 or 3; the 16-byte SM4 block
widened as in docs/kiosk-devices.md)."""

from __future__ import annotations

import hmac

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

TDES, SM4 = "tdes", "sm4"
PAN_FIELD_DIGITS = 12
FORMAT_0, FORMAT_3 = 0, 3


class PinBlockError(ValueError):
    """The block does not decipher to a well-formed PIN field."""


def _decipher(algorithm: str, key: bytes, block: bytes) -> bytes:
    if algorithm == SM4:
        cipher = Cipher(algorithms.SM4(key), modes.ECB())
    else:
        full = {8: key * 3, 16: key + key[:8], 24: key}.get(len(key))
        if full is None:
            raise PinBlockError("3DES PIN key must be 8, 16 or 24 bytes")
        cipher = Cipher(TripleDES(full), modes.ECB())
    dec = cipher.decryptor()
    return dec.update(block) + dec.finalize()


def recover_pin(algorithm: str, key: bytes, block: bytes, pan: str) -> str:
    want = 16 if algorithm == SM4 else 8
    if len(block) != want:
        raise PinBlockError(f"PIN block must be {want} bytes for {algorithm}")
    clear = _decipher(algorithm, key, block)
    pan_part = bytes.fromhex(pan[-PAN_FIELD_DIGITS - 1:-1].rjust(2 * want, "0"))
    field = bytes(a ^ b for a, b in zip(clear, pan_part, strict=True)).hex().upper()
    fmt, length = int(field[0], 16), int(field[1], 16)
    if fmt not in (FORMAT_0, FORMAT_3) or not 4 <= length <= 12:
        raise PinBlockError("not an ISO 9564 format 0/3 PIN field")
    pin, fill = field[2:2 + length], field[2 + length:]
    if not pin.isdigit() or (fmt == FORMAT_0 and set(fill) != {"F"}) or (fmt == FORMAT_3 and not set(fill) <= set("ABCDEF")):
        raise PinBlockError("PIN field digits or fill are wrong")
    return pin


def pin_matches(algorithm: str, key: bytes, block: bytes, pan: str, expected: str) -> bool:
    try:
        return hmac.compare_digest(recover_pin(algorithm, key, block, pan), expected)
    except PinBlockError:
        return False
