"""The small COSE subset the link uses: COSE_Encrypt0 (RFC 9052 §5.2) with AES-CCM-16-64-128
(RFC 9053 §4.2, algorithm 10: 128-bit key, 64-bit tag, 13-byte nonce).

The nonce follows RFC 9052 §3.1: the Partial IV (header 6, our monotonic counter) is
left-padded with zeros to the length of the Base IV of the key and XORed with it. The
Partial IV sits in the protected header, so it is authenticated. The MicroPython firmware
implements the same bytes (tests/mch_link/vectors/envelope.json holds both to them).
"""

from __future__ import annotations

from typing import Any

import cbor2
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from mch_link import strictcbor
from mch_link.errors import EnvelopeError
from mch_link.strictcbor import CBORDecodeError

COSE_ENCRYPT0_TAG = 16
_ENVELOPE_TAGS = frozenset({COSE_ENCRYPT0_TAG})  # the only tag an envelope may carry
_TAG16_HEAD, _ARRAY3_HEAD, _EMPTY_MAP_HEAD = 0xC0 | COSE_ENCRYPT0_TAG, 0x83, 0xA0
ALG_AES_CCM_16_64_128 = 10
KEY_LEN = 16
NONCE_LEN = 13
TAG_LEN = 8

# Header labels (RFC 9052 §3.1) and our private-use labels (< -65536).
H_ALG = 1
H_CONTENT_TYPE = 3
H_KID = 4
H_IV = 5
H_PARTIAL_IV = 6
H_SEALED_AT_MS = -65537  # device clock at sealing, unix ms; absent while the clock is unknown
H_SCHEMA = -65538  # record schema id, e.g. "ctg/1"

MAX_PARTIAL_IV_LEN = 5  # counters up to 2**40 - 1
EPOCH_LEN = 8  # a random id per boot of a sender, bound into every nonce it makes (see `encode_partial_iv`)
EPOCH_PARTIAL_IV_LEN = EPOCH_LEN + MAX_PARTIAL_IV_LEN  # epoch || counter, 13 bytes = the whole nonce
MAX_PLAINTEXT = (1 << 16) - 1  # CCM with a 13-byte nonce has a 2-byte length field (L = 2)


def encode_partial_iv(counter: int, epoch: bytes = b"") -> bytes:
    """The counter, minimal big-endian; with an epoch, `epoch || counter` (5 bytes, fixed).

    The epoch is drawn at random each time a sender starts: a sender whose counter store was lost,
    restored from a backup or copied to a new disk still never makes a nonce twice under its key.
    """
    if counter < 0 or counter >= 1 << (8 * MAX_PARTIAL_IV_LEN):
        raise EnvelopeError("bad-counter", f"counter {counter} out of range")
    if epoch:
        if len(epoch) != EPOCH_LEN:
            raise EnvelopeError("bad-counter", f"epoch must be {EPOCH_LEN} bytes")
        return epoch + counter.to_bytes(MAX_PARTIAL_IV_LEN, "big")
    return counter.to_bytes(max(1, (counter.bit_length() + 7) // 8), "big")


def decode_partial_iv(piv: bytes) -> tuple[bytes, int]:
    """(epoch, counter); the epoch is empty for a sender without one."""
    if len(piv) == EPOCH_PARTIAL_IV_LEN:
        return piv[:EPOCH_LEN], int.from_bytes(piv[EPOCH_LEN:], "big")
    return b"", int.from_bytes(piv, "big")


def nonce_for(base_iv: bytes, partial_iv: bytes) -> bytes:
    if len(base_iv) != NONCE_LEN:
        raise EnvelopeError("bad-key", f"base IV must be {NONCE_LEN} bytes")
    if len(partial_iv) > NONCE_LEN:
        raise EnvelopeError("malformed", "Partial IV longer than the nonce")
    return (int.from_bytes(base_iv, "big") ^ int.from_bytes(partial_iv, "big")).to_bytes(NONCE_LEN, "big")


_ENCRYPT0_CONTEXT = b"\x83\x68Encrypt0"  # array(3), text(8) "Encrypt0"


def _bstr_head(n: int) -> bytes:
    """CBOR head of a byte string of length n (RFC 8949 §3.1, major type 2, shortest form)."""
    if n < 24:
        return bytes([0x40 | n])
    if n < 0x100:
        return bytes([0x58, n])
    if n < 0x10000:
        return b"\x59" + n.to_bytes(2, "big")
    return b"\x5a" + n.to_bytes(4, "big")


def enc_structure(protected: bytes, external_aad: bytes) -> bytes:
    """CBOR of ["Encrypt0", protected, external_aad] (RFC 9052 §5.3), built directly: it runs per message."""
    return b"".join((_ENCRYPT0_CONTEXT, _bstr_head(len(protected)), protected,
                     _bstr_head(len(external_aad)), external_aad))


def encrypt0(key: bytes, base_iv: bytes, protected: dict[int, Any], plaintext: bytes, external_aad: bytes) -> bytes:
    """Seal `plaintext`; `protected` must hold the algorithm and the Partial IV."""
    if len(key) != KEY_LEN:
        raise EnvelopeError("bad-key", f"key must be {KEY_LEN} bytes")
    if len(plaintext) > MAX_PLAINTEXT:
        raise EnvelopeError("too-large", f"plaintext of {len(plaintext)} bytes; AES-CCM here takes {MAX_PLAINTEXT}")
    protected_bytes = cbor2.dumps(protected, canonical=True)
    nonce = nonce_for(base_iv, protected[H_PARTIAL_IV])
    ciphertext = AESCCM(key, tag_length=TAG_LEN).encrypt(nonce, plaintext, enc_structure(protected_bytes, external_aad))
    return cbor2.dumps(cbor2.CBORTag(COSE_ENCRYPT0_TAG, [protected_bytes, {}, ciphertext]))


def _split_encrypt0(data: bytes) -> tuple[bytes, bytes] | None:
    """The shape every sender of the link writes, read byte by byte (the per-message fast path):
    tag 16, array(3), bstr protected, empty map, bstr ciphertext, nothing after. None otherwise."""
    if len(data) < 4 or data[0] != _TAG16_HEAD or data[1] != _ARRAY3_HEAD:
        return None
    first = _bstr_at(data, 2)
    if first is None or first[1] >= len(data) or data[first[1]] != _EMPTY_MAP_HEAD:
        return None
    second = _bstr_at(data, first[1] + 1)
    if second is None or second[1] != len(data):
        return None
    return first[0], second[0]


def _bstr_at(data: bytes, pos: int) -> tuple[bytes, int] | None:
    if pos >= len(data) or data[pos] >> 5 != 2:
        return None
    ai, pos = data[pos] & 0x1F, pos + 1
    if ai < 24:
        n = ai
    elif 24 <= ai <= 26:
        width = 1 << (ai - 24)
        n, pos = int.from_bytes(data[pos:pos + width], "big"), pos + width
    else:
        return None
    return (data[pos:pos + n], pos + n) if pos + n <= len(data) else None


def decode_encrypt0(data: bytes) -> tuple[bytes, dict[int, Any], bytes]:
    """Parse without decrypting: (protected bytes, protected map, ciphertext). Raises EnvelopeError."""
    split = _split_encrypt0(data)
    if split is None:  # say exactly what is wrong: the strict decoder, linear work, no semantic tags
        _explain_bad_encrypt0(data)
        raise EnvelopeError("malformed", "not a COSE_Encrypt0 as the link writes it")
    protected_bytes, ciphertext = split
    try:
        protected = strictcbor.loads(protected_bytes)
    except CBORDecodeError as exc:
        raise EnvelopeError("malformed", f"protected header: {exc}") from None
    if not isinstance(protected, dict):
        raise EnvelopeError("malformed", "protected header is not a map")
    if protected.get(H_ALG) != ALG_AES_CCM_16_64_128:
        raise EnvelopeError("unsupported-alg", f"alg {protected.get(H_ALG)!r}")
    piv = protected.get(H_PARTIAL_IV)
    if not isinstance(piv, bytes) or not (1 <= len(piv) <= MAX_PARTIAL_IV_LEN or len(piv) == EPOCH_PARTIAL_IV_LEN):
        raise EnvelopeError("malformed", "missing or bad Partial IV")
    if len(ciphertext) < TAG_LEN:
        raise EnvelopeError("malformed", "ciphertext shorter than the tag")
    return protected_bytes, protected, ciphertext


def _explain_bad_encrypt0(data: bytes) -> None:
    """Raise the EnvelopeError that names what is wrong with `data` (no return when it finds it)."""
    try:
        obj = strictcbor.loads(data, _ENVELOPE_TAGS)
    except CBORDecodeError as exc:
        raise EnvelopeError("malformed", f"not CBOR of the link: {exc}") from None
    if not isinstance(obj, strictcbor.Tagged) or obj.tag != COSE_ENCRYPT0_TAG:
        raise EnvelopeError("malformed", "not a tagged COSE_Encrypt0")
    value = obj.value
    if not isinstance(value, list) or len(value) != 3:
        raise EnvelopeError("malformed", "COSE_Encrypt0 must be a 3-element array")
    protected_bytes, unprotected, ciphertext = value
    if not isinstance(protected_bytes, bytes) or not isinstance(unprotected, dict) or not isinstance(ciphertext, bytes):
        raise EnvelopeError("malformed", "bad COSE_Encrypt0 member types")
    if unprotected:
        raise EnvelopeError("malformed", "unprotected header must be empty")


def decrypt0(key: bytes, base_iv: bytes, protected_bytes: bytes, protected: dict[int, Any],
             ciphertext: bytes, external_aad: bytes) -> bytes:
    nonce = nonce_for(base_iv, protected[H_PARTIAL_IV])
    try:
        return AESCCM(key, tag_length=TAG_LEN).decrypt(nonce, ciphertext, enc_structure(protected_bytes, external_aad))
    except InvalidTag:
        raise EnvelopeError("auth-failed", "tag does not verify (forged, tampered, wrong key or wrong topic)") from None
