"""ECDSA P-256 verification against signatures made by `cryptography` (fixed key, provenance:
ec.derive_private_key(0x1234...cdef) signed with cryptography 50.0.2, r||s hex)."""

import binascii

from mchfw import p256

H = binascii.unhexlify
PUB = H("04471c3e758c4904285bba7e53118ed0f524adeb0757d25bd2f8e7b0d76dfa714cdd520f7aca8a8b917acc37f51de8"
        "f0c9bbe3ad858382e702dc25a12d09f7a858")
SIG1 = H("64be07dde8cc690a7b209df3ed0d57c58d02f25aea61ddf1309c31b8fa7965ca04f156284c822c0473a2a7273341f7c4bb"
         "76a90386d6368f4f89d7b0183f93d2")
SIG_EMPTY = H("db018ac7fbb566412329de151c6a7079fd5fe0f632fa5667ef86722c0222af050111637cce6bee62fba6eb2731b62c7b1"
              "4c8fe8903c148ccb42694bc5b552993")


def test_valid_signatures_verify(tmp):
    q = p256.parse_pubkey(PUB)
    assert p256.verify(q, b"mchfw p256 test 1", SIG1)
    assert p256.verify(q, b"", SIG_EMPTY)


def test_wrong_message_or_signature_fails(tmp):
    q = p256.parse_pubkey(PUB)
    assert not p256.verify(q, b"mchfw p256 test 2", SIG1)
    assert not p256.verify(q, b"", SIG1)
    for i in (0, 31, 32, 63):
        bad = bytearray(SIG1)
        bad[i] ^= 1
        assert not p256.verify(q, b"mchfw p256 test 1", bytes(bad))
    assert not p256.verify(q, b"mchfw p256 test 1", bytes(64))
    assert not p256.verify(q, b"mchfw p256 test 1", SIG1[:63])
    n = p256.N.to_bytes(32, "big")
    assert not p256.verify(q, b"mchfw p256 test 1", SIG1[:32] + n)


def test_off_curve_key_refused(tmp):
    bad = bytearray(PUB)
    bad[64] ^= 1
    try:
        p256.parse_pubkey(bytes(bad))
    except ValueError:
        return
    raise AssertionError("off-curve point accepted")
