"""AES-CCM over the ECB primitive: RFC 3610 packet vector #1 (M=8, L=2), tamper, bounds."""

import binascii

from mchfw import ccm

H = binascii.unhexlify
# RFC 3610 section 8, Packet Vector #1: 8-byte header as AAD, 23-byte payload.
KEY = H("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf")
NONCE = H("00000003020100a0a1a2a3a4a5")
PACKET = bytes(range(31))
EXPECTED = H("588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0")


def test_rfc3610_vector_1(tmp):
    assert ccm.encrypt(KEY, NONCE, PACKET[8:], PACKET[:8]) == EXPECTED
    assert ccm.decrypt(KEY, NONCE, EXPECTED, PACKET[:8]) == PACKET[8:]


def _refused(fn, *args):
    try:
        fn(*args)
    except ccm.CCMError:
        return True
    return False


def test_tamper_is_refused(tmp):
    for i in range(len(EXPECTED)):
        bad = bytearray(EXPECTED)
        bad[i] ^= 0x01
        assert _refused(ccm.decrypt, KEY, NONCE, bytes(bad), PACKET[:8])
    assert _refused(ccm.decrypt, KEY, NONCE, EXPECTED, PACKET[:7])
    assert _refused(ccm.decrypt, KEY, NONCE, EXPECTED[:7], PACKET[:8])


def test_lengths_and_empty(tmp):
    for n in (0, 1, 15, 16, 17, 100, 1000):
        pt = bytes((i * 7) & 0xFF for i in range(n))
        ct = ccm.encrypt(KEY, NONCE, pt, b"")
        assert len(ct) == n + ccm.TAG_LEN
        assert ccm.decrypt(KEY, NONCE, ct, b"") == pt
    assert _refused(ccm.encrypt, KEY[:15], NONCE, b"x", b"")
    assert _refused(ccm.encrypt, KEY, NONCE[:12], b"x", b"")
