"""ECDSA P-256 / SHA-256 signature verification in pure Python integers (FIPS 186-4 §6.4.2).

MicroPython has arbitrary-precision ints and hashlib.sha256 but no asymmetric crypto; this is
the verifier for firmware manifests (see update.py, docs/firmware.md). Verification only: no
secret is ever handled on the device, so timing side channels do not matter here. Points use
Jacobian coordinates; u1*G + u2*Q is computed with Shamir's trick (one double-and-add pass).
"""

import hashlib

P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
A = P - 3
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5
COORD_LEN = 32
SEC1_UNCOMPRESSED = 0x04
PUBKEY_LEN = 1 + 2 * COORD_LEN
SIG_LEN = 2 * COORD_LEN
BITS = 256
INFINITY = (1, 1, 0)


def _double(pt: tuple) -> tuple:
    x, y, z = pt
    if z == 0 or y == 0:
        return INFINITY
    delta = z * z % P
    gamma = y * y % P
    beta = x * gamma % P
    alpha = 3 * (x - delta) * (x + delta) % P
    x3 = (alpha * alpha - 8 * beta) % P
    z3 = ((y + z) * (y + z) - gamma - delta) % P
    y3 = (alpha * (4 * beta - x3) - 8 * gamma * gamma) % P
    return (x3, y3, z3)


def _add(p1: tuple, p2: tuple) -> tuple:
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    if z1 == 0:
        return p2
    if z2 == 0:
        return p1
    z1z1 = z1 * z1 % P
    z2z2 = z2 * z2 % P
    u1 = x1 * z2z2 % P
    u2 = x2 * z1z1 % P
    s1 = y1 * z2 * z2z2 % P
    s2 = y2 * z1 * z1z1 % P
    h = (u2 - u1) % P
    r = (s2 - s1) % P
    if h == 0:
        return _double(p1) if r == 0 else INFINITY
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    y3 = (r * (v - x3) - s1 * hhh) % P
    z3 = z1 * z2 * h % P
    return (x3, y3, z3)


def _on_curve(x: int, y: int) -> bool:
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


def parse_pubkey(sec1: bytes) -> tuple:
    """(x, y) from an uncompressed SEC1 point; ValueError if it is not a curve point."""
    if len(sec1) != PUBKEY_LEN or sec1[0] != SEC1_UNCOMPRESSED:
        raise ValueError("public key must be 65-byte uncompressed SEC1")
    x = int.from_bytes(sec1[1:1 + COORD_LEN], "big")
    y = int.from_bytes(sec1[1 + COORD_LEN:], "big")
    if not _on_curve(x, y):
        raise ValueError("public key is not on P-256")
    return (x, y)


def verify_digest(pub: tuple, digest: bytes, sig: bytes) -> bool:
    """True iff sig (r||s, 64 bytes) is a valid ECDSA signature of the SHA-256 digest."""
    if len(sig) != SIG_LEN or len(digest) != COORD_LEN:
        return False
    r = int.from_bytes(sig[:COORD_LEN], "big")
    s = int.from_bytes(sig[COORD_LEN:], "big")
    if not (0 < r < N and 0 < s < N):
        return False
    e = int.from_bytes(digest, "big") % N
    w = pow(s, N - 2, N)
    u1 = e * w % N
    u2 = r * w % N
    g = (GX, GY, 1)
    q = (pub[0], pub[1], 1)
    table = (INFINITY, g, q, _add(g, q))
    acc = INFINITY
    for i in range(BITS - 1, -1, -1):
        acc = _double(acc)
        idx = ((u1 >> i) & 1) | (((u2 >> i) & 1) << 1)
        if idx:
            acc = _add(acc, table[idx])
    x, _, z = acc
    if z == 0:
        return False
    zinv = pow(z, P - 2, P)
    return (x * zinv * zinv % P) % N == r


def verify(pub: tuple, message: bytes, sig: bytes) -> bool:
    return verify_digest(pub, hashlib.sha256(message).digest(), sig)
