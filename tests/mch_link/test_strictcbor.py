"""The strict decoder for untrusted CBOR: the link's subset decodes as cbor2 does; everything
else (semantic tags above all) is refused at its first byte, before any costly work."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mch_link import cose, envelope, strictcbor
from mch_link.envelope import Record
from mch_link.errors import EnvelopeError
from mch_link.keys import DirectionKey
from mch_link.strictcbor import CBORDecodeError, Tagged

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**64), 2**64 - 1), st.text(max_size=20),
                    st.binary(max_size=20), st.floats(allow_nan=False))
keys = st.one_of(st.integers(-(2**63), 2**63), st.text(max_size=10), st.binary(max_size=10))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=6),
                                                        st.dictionaries(keys, inner, max_size=6)), max_leaves=30)


@pytest.mark.fuzz
@settings(max_examples=300, deadline=None)
@given(values)
def test_the_link_subset_decodes_like_cbor2(value: object) -> None:
    data = cbor2.dumps(value)
    assert strictcbor.loads(data) == cbor2.loads(data)


@pytest.mark.fuzz
@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_raises_only_the_decode_error(data: bytes) -> None:
    try:
        strictcbor.loads(data)
    except CBORDecodeError:
        pass


@pytest.mark.parametrize("tag", [0, 1, 2, 3, 4, 5, 21, 24, 30, 32, 35, 36, 258, 55799])
def test_every_semantic_tag_is_refused_at_its_first_byte(tag: int) -> None:
    bomb = cbor2.dumps(cbor2.CBORTag(tag, [-5, cbor2.CBORTag(2, b"\x7f" * (256 << 10))]))
    with pytest.raises(CBORDecodeError, match=f"tag {tag} is not allowed here at byte 0$"):
        strictcbor.loads(bomb)


def test_a_tag_inside_a_structure_is_refused_where_it_is() -> None:
    with pytest.raises(CBORDecodeError, match="tag 30 is not allowed here at byte 3"):
        strictcbor.loads(cbor2.dumps([1, 2, cbor2.CBORTag(30, [1, 3])]))


def test_only_the_listed_tag_decodes() -> None:
    data = cbor2.dumps(cbor2.CBORTag(16, [b"\xa0", {}, b"x" * 8]))
    assert strictcbor.loads(data, frozenset({16})) == Tagged(16, [b"\xa0", {}, b"x" * 8])
    with pytest.raises(CBORDecodeError, match="tag 16"):
        strictcbor.loads(data)


@pytest.mark.parametrize(("data", "why"), [
    (b"\x9f\x01\xff", "indefinite length"),  # indefinite-length array
    (b"\x5f\x41\x00\xff", "indefinite length"),
    (b"\xa2\x01\x02\x01\x03", "duplicate map key"),
    (b"\xa1\x81\x01\x02", "map key is not"),
    (b"\x62\xff\xfe", "not UTF-8"),
    (b"\x01\x02", "1 trailing bytes"),
    (b"\x5a\xff\xff\xff\xff", "longer than the input"),
    (b"\x9b\xff\xff\xff\xff\xff\xff\xff\xff", "longer than the input"),
    (b"\xf7", "simple value 23"),  # undefined
    (b"\xf8\x20", "simple value 24"),
    (b"\x18", "truncated"),
    (b"\x81" * 17 + b"\x01", "nesting too deep"),
])
def test_outside_the_subset_is_refused_with_its_reason(data: bytes, why: str) -> None:
    with pytest.raises(CBORDecodeError, match=why):
        strictcbor.loads(data)


def test_the_envelope_refuses_tags_before_and_after_decryption() -> None:
    key, where = DirectionKey.generate(), "mch/v1/sim-001/rec"
    bomb = cbor2.dumps(cbor2.CBORTag(4, [-5, cbor2.CBORTag(2, b"\x7f" * 1000)]))
    with pytest.raises(EnvelopeError, match="tag 4 is not allowed"):
        envelope.open_envelope(bomb, key, where)
    protected = {cose.H_ALG: cose.ALG_AES_CCM_16_64_128, cose.H_CONTENT_TYPE: envelope.CONTENT_TYPE,
                 cose.H_KID: b"sim-001", cose.H_PARTIAL_IV: b"\x01", cose.H_SCHEMA: "sim/1"}
    sealed_bomb = cose.encrypt0(key.key, key.base_iv, protected, bomb, where.encode())
    with pytest.raises(EnvelopeError, match="plaintext: tag 4 is not allowed"):
        envelope.open_envelope(sealed_bomb, key, where)
    bad_header = {**protected, cose.H_SCHEMA: cbor2.CBORTag(1, 0)}
    tagged_header = cose.encrypt0(key.key, key.base_iv, bad_header, cbor2.dumps([]), where.encode())
    with pytest.raises(EnvelopeError, match="protected header: tag 1"):
        envelope.open_envelope(tagged_header, key, where)
    good = envelope.seal(key, "sim-001", where, 1, "sim/1", [Record(1, {"seq": 1, "x": [1.5, None, "é"]}, 5)])
    assert envelope.open_envelope(good, key, where).records == (Record(1, {"seq": 1, "x": [1.5, None, "é"]}, 5),)
