"""CBOR subset: round trips, canonical map order, exact bytes, garbage never crashes."""

from mchfw import cbor


def test_known_bytes(tmp):
    assert cbor.dumps(0) == b"\x00"
    assert cbor.dumps(23) == b"\x17"
    assert cbor.dumps(24) == b"\x18\x18"
    assert cbor.dumps(-1) == b"\x20"
    assert cbor.dumps(-65538) == b"\x3a\x00\x01\x00\x01"
    assert cbor.dumps(2 ** 40 - 1) == b"\x1b\x00\x00\x00\xff\xff\xff\xff\xff"
    assert cbor.dumps("a") == b"\x61a"
    assert cbor.dumps(b"\x01") == b"\x41\x01"
    assert cbor.dumps([None, True, False]) == b"\x83\xf6\xf5\xf4"
    assert cbor.dumps(1.5) == b"\xfb\x3f\xf8\x00\x00\x00\x00\x00\x00"
    assert cbor.dumps(cbor.Tag(16, [])) == b"\xd0\x80"


def test_plain_dict_keys_in_canonical_order(tmp):
    d = {}
    for k in ("toco", "seq", "fhr_bpm", "b", "note"):
        d[k] = 1
    assert cbor.dumps(d) == cbor.dumps(cbor.loads(cbor.dumps(d)))
    enc = cbor.dumps(d)
    assert enc.index(b"ab") < enc.index(b"cseq") < enc.index(b"dnote") < enc.index(b"dtoco") < enc.index(b"gfhr_bpm")


def test_decoded_map_keeps_its_order(tmp):
    raw = b"\xa3\x63seq\x01\x67fhr_bpm\x80\x64toco\x80"  # insertion order, not canonical
    assert cbor.dumps(cbor.loads(raw)) == raw


def test_round_trip(tmp):
    obj = [1, -5, 2 ** 63, "孕妇", b"\x00\xff", {"a": [1, {"b": None}]}, 0.25, True]
    back = cbor.loads(cbor.dumps(obj))
    assert back[:5] == obj[:5]
    assert back[5]["a"][1]["b"] is None
    assert back[6] == 0.25 and back[7] is True


def test_half_and_single_floats_decode(tmp):
    assert cbor.loads(b"\xf9\x3e\x00") == 1.5
    assert cbor.loads(b"\xfa\x3f\xc0\x00\x00") == 1.5


def test_garbage_raises_cbor_error_only(tmp):
    seed = 12345
    bad = [b"", b"\x18", b"\x5a\xff\xff\xff\xff", b"\x9f", b"\x81", b"\xa1\x80\x01", b"\x00\x00",
           b"\x62\xff\xfe", b"\xfc", b"\x81" * 40 + b"\x00"]
    for _ in range(300):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        n = seed % 12
        data = bytes(((seed >> (i % 24)) + i * 31) & 0xFF for i in range(n))
        bad.append(data)
    refused = 0
    for data in bad:
        try:
            cbor.loads(data)
        except cbor.CBORError:
            refused += 1
    assert refused >= 10  # the hand-picked ones at least; random bytes may happen to be valid


def test_refuses_unencodable(tmp):
    try:
        cbor.dumps(object())
    except cbor.CBORError:
        return
    raise AssertionError("object() encoded")
