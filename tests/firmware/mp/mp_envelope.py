"""The envelope against the committed vectors (tests/mch_link/vectors/envelope.json)."""

import binascii
import json
import os

from mchfw import cbor, envelope

H = binascii.unhexlify


def _vectors():
    with open(os.getenv("MCH_VECTORS")) as f:
        return json.load(f)["vectors"]


def _records(v):
    # Bodies come from the vector's plaintext so that map order is the one mch_link wrote.
    return [(r["id"], r["t"], r["b"]) for r in cbor.loads(H(v["plaintext"]))]


def test_seal_reproduces_every_vector(tmp):
    vs = _vectors()
    assert len(vs) >= 8 and any(v["epoch"] for v in vs)
    for v in vs:
        assert envelope.records_plaintext(_records(v)).hex() == v["plaintext"], v["name"]
        got = envelope.seal(H(v["key"]), H(v["base_iv"]), v["device_id"], v["topic"], v["counter"], v["schema"],
                            _records(v), v["sealed_at_ms"], H(v["epoch"]))
        assert got.hex() == v["envelope"], v["name"]


def test_open_every_vector(tmp):
    for v in _vectors():
        hdr, recs = envelope.open_envelope(H(v["envelope"]), H(v["key"]), H(v["base_iv"]), v["topic"])
        assert hdr["kid"] == v["device_id"] and hdr["counter"] == v["counter"] and hdr["epoch"] == H(v["epoch"])
        assert hdr["schema"] == v["schema"] and hdr["sealed_at_ms"] == v["sealed_at_ms"]
        assert [r[0] for r in recs] == [r["id"] for r in v["records"]]
        assert [r[1] for r in recs] == [r["t"] for r in v["records"]]
        for (_, _, body), want in zip(recs, v["records"]):  # noqa: B905 - no strict= on MicroPython
            assert cbor.dumps(_plain(body)) == cbor.dumps(_plain(want["b"]))


def _plain(obj):
    """Plain dicts and lists (canonical key order when encoded), to compare content only."""
    if isinstance(obj, dict):
        out = {}
        for k in obj:
            out[k] = _plain(obj[k])
        return out
    if isinstance(obj, list):
        return [_plain(x) for x in obj]
    return obj


def _reason(fn, *args):
    try:
        fn(*args)
    except envelope.EnvelopeError as exc:
        return exc.reason
    return None


def test_wrong_topic_key_or_tamper_does_not_open(tmp):
    v = _vectors()[1]
    env, key, iv = H(v["envelope"]), H(v["key"]), H(v["base_iv"])
    assert _reason(envelope.open_envelope, env, key, iv, v["topic"] + "x") == "auth-failed"
    assert _reason(envelope.open_envelope, env, bytes(16), iv, v["topic"]) == "auth-failed"
    for i in range(0, len(env), 3):
        bad = bytearray(env)
        bad[i] ^= 0x40
        assert _reason(envelope.open_envelope, bytes(bad), key, iv, v["topic"]) is not None


def test_garbage_is_malformed_not_a_crash(tmp):
    for data in (b"", b"\xd0", b"\xd0\x83\x40\xa0\x40", b"\xd1\x83\x40\xa0\x40", b"\x00" * 50, b"\xd0\x83\x41\x00\xa0\x48" + bytes(8)):
        assert _reason(envelope.open_envelope, data, bytes(16), bytes(13), "t") in ("malformed", "unsupported-alg")


def test_counter_encoding(tmp):
    assert envelope.partial_iv(0) == b"\x00"
    assert envelope.partial_iv(255) == b"\xff"
    assert envelope.partial_iv(256) == b"\x01\x00"
    assert envelope.partial_iv(2 ** 40 - 1) == b"\xff" * 5
    assert _reason(envelope.partial_iv, 2 ** 40) == "bad-counter"
    assert _reason(envelope.partial_iv, -1) == "bad-counter"
