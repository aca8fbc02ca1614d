"""AES-CCM (RFC 3610, NIST SP 800-38C) with L=2, M=8 over the AES-ECB block primitive.

MicroPython's `cryptolib.aes` has ECB but no AEAD; CCM is CBC-MAC (for the tag) plus CTR (for
the ciphertext), both made of ECB block encryptions. Parameters of COSE algorithm 10
(AES-CCM-16-64-128): 16-byte key, 13-byte nonce, 8-byte tag, length field of 2 bytes (so a
message is at most 65535 bytes). On CPython (tooling) the ECB primitive comes from
`cryptography`.
"""

try:
    import cryptolib

    MODE_ECB = 1

    def _ecb(key: bytes):  # returns a callable: 16*n bytes -> 16*n bytes
        return cryptolib.aes(key, MODE_ECB).encrypt

except ImportError:  # CPython tooling
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    def _ecb(key: bytes):
        return Cipher(algorithms.AES(key), modes.ECB()).encryptor().update


BLOCK = 16
KEY_LEN = 16
NONCE_LEN = 13
TAG_LEN = 8  # M
LEN_FIELD = 2  # L
MAX_LEN = (1 << (8 * LEN_FIELD)) - 1
FLAG_ADATA = 0x40
# Flags byte of B0: Adata | ((M-2)/2) << 3 | (L-1); of the counter blocks A_i: L-1.
FLAGS_B0 = (((TAG_LEN - 2) // 2) << 3) | (LEN_FIELD - 1)
FLAGS_CTR = LEN_FIELD - 1
MAX_SHORT_AAD = 0xFF00  # below this the AAD length is coded on 2 bytes


class CCMError(ValueError):
    """Bad key/nonce/length, or the tag does not verify."""


def _xor(a: bytes, b: bytes) -> bytes:
    """XOR of two equal-length byte strings (bignum XOR: one C loop, not a Python one)."""
    n = len(a)
    if n == 0:
        return b""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(n, "big")


def _pad(buf: bytearray) -> None:
    rem = len(buf) % BLOCK
    if rem:
        buf.extend(bytes(BLOCK - rem))


def _cbc_mac(ecb, nonce: bytes, aad: bytes, msg: bytes) -> bytes:
    b = bytearray()
    b.append((FLAG_ADATA if aad else 0) | FLAGS_B0)
    b.extend(nonce)
    b.extend(len(msg).to_bytes(LEN_FIELD, "big"))
    if aad:
        if len(aad) >= MAX_SHORT_AAD:
            raise CCMError("AAD too long for this profile")
        b.extend(len(aad).to_bytes(2, "big"))
        b.extend(aad)
        _pad(b)
    b.extend(msg)
    _pad(b)
    x = bytes(BLOCK)
    mv = memoryview(b)
    for i in range(0, len(b), BLOCK):
        x = ecb(_xor(x, bytes(mv[i:i + BLOCK])))
    return x[:TAG_LEN]


def _keystream(ecb, nonce: bytes, n_blocks: int, first: int) -> bytes:
    """Encryptions of A_first .. A_first+n_blocks-1 in one ECB call."""
    blocks = bytearray()
    prefix = bytes([FLAGS_CTR]) + nonce
    for i in range(first, first + n_blocks):
        blocks.extend(prefix)
        blocks.extend(i.to_bytes(LEN_FIELD, "big"))
    return ecb(bytes(blocks)) if blocks else b""


def _ctr(ecb, nonce: bytes, data: bytes) -> bytes:
    n = len(data)
    stream = _keystream(ecb, nonce, (n + BLOCK - 1) // BLOCK, 1)
    return _xor(data, stream[:n])


def _check(key: bytes, nonce: bytes, n: int) -> None:
    if len(key) != KEY_LEN:
        raise CCMError(f"key must be {KEY_LEN} bytes")
    if len(nonce) != NONCE_LEN:
        raise CCMError(f"nonce must be {NONCE_LEN} bytes")
    if n > MAX_LEN:
        raise CCMError(f"message longer than {MAX_LEN} bytes")


def encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Ciphertext || tag (8 bytes)."""
    _check(key, nonce, len(plaintext))
    ecb = _ecb(key)
    tag = _cbc_mac(ecb, nonce, aad, plaintext)
    s0 = _keystream(ecb, nonce, 1, 0)
    return _ctr(ecb, nonce, plaintext) + _xor(tag, s0[:TAG_LEN])


def decrypt(key: bytes, nonce: bytes, data: bytes, aad: bytes) -> bytes:
    """Plaintext, or CCMError if the tag does not verify (nothing is returned then)."""
    if len(data) < TAG_LEN:
        raise CCMError("shorter than the tag")
    _check(key, nonce, len(data) - TAG_LEN)
    ecb = _ecb(key)
    ct, got = data[:-TAG_LEN], data[-TAG_LEN:]
    plaintext = _ctr(ecb, nonce, ct)
    s0 = _keystream(ecb, nonce, 1, 0)
    want = _xor(_cbc_mac(ecb, nonce, aad, plaintext), s0[:TAG_LEN])
    diff = 0
    for a, b in zip(want, got):  # noqa: B905 - MicroPython zip has no strict; lengths checked above
        diff |= a ^ b
    if diff:
        raise CCMError("tag does not verify")
    return plaintext
