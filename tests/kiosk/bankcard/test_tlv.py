from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.bankcard import tlv
from kiosk.bankcard.errors import TlvError

FCI = bytes.fromhex("6F1A840E315041592E5359532E4444463031A5088801015F2D027A68")


def test_decodes_nested_fci() -> None:
    (fci,) = tlv.decode(FCI)
    assert fci.tag == 0x6F and fci.constructed
    assert fci.find(0x84).value == b"1PAY.SYS.DDF01"
    assert fci.find(0x88).value == b"\x01"
    assert fci.find(0x5F2D).value == b"zh"
    assert fci.encode() == FCI


def test_long_form_lengths_and_multibyte_tags() -> None:
    value = bytes(range(200))
    encoded = tlv.encode_tlv(0x9F4D, value)
    assert encoded[:4] == bytes.fromhex("9F4D81C8")
    assert tlv.decode(encoded) == (tlv.Tlv(0x9F4D, value),)
    assert tlv.encode_length(0x1234) == bytes.fromhex("821234")


def test_padding_between_objects_is_skipped() -> None:
    data = b"\x00\x00" + tlv.encode_tlv(0x5A, b"\x12") + b"\x00" + tlv.encode_tlv(0x50, b"A")
    assert [o.tag for o in tlv.decode(data)] == [0x5A, 0x50]


@pytest.mark.parametrize("bad", ["5A05 0102", "9F", "5A8105", "5A80", "5A850000000001", "9F8181818101"])
def test_malformed_input_raises_tlv_error(bad: str) -> None:
    with pytest.raises(TlvError):
        tlv.decode(bytes.fromhex(bad.replace(" ", "")))


def test_repr_never_shows_values() -> None:
    obj = tlv.Tlv(0x5A, bytes.fromhex("6299990000000012348F"))
    assert "6299" not in repr(obj) and "length=10" in repr(obj)


def test_build_checks_primitive_versus_constructed() -> None:
    with pytest.raises(TlvError):
        tlv.build(0x70, b"raw")
    with pytest.raises(TlvError):
        tlv.build(0x5A, tlv.build(0x50, b"x"))
    with pytest.raises(TlvError):
        tlv.tag_bytes(0x9F81)  # continuation bit set on the last byte


def _tags(constructed: bool) -> st.SearchStrategy[int]:
    bit = 0x20 if constructed else 0x00
    one = st.integers(0, 0x1E).flatmap(lambda n: st.sampled_from([0x40, 0x80, 0xC0, 0x00]).map(
        lambda cls: cls | bit | n)).filter(lambda t: t != 0)
    two = st.tuples(st.sampled_from([0x1F, 0x5F, 0x9F, 0xDF]), st.integers(0x00, 0x7F)).map(
        lambda p: ((p[0] | bit) << 8) | p[1])
    return st.one_of(one, two)


primitive = st.builds(lambda tag, value: tlv.Tlv(tag, value), _tags(False), st.binary(max_size=300))
trees = st.recursive(
    primitive,
    lambda children: st.builds(lambda tag, kids: tlv.build(tag, *kids), _tags(True),
                               st.lists(children, max_size=4)),
    max_leaves=12,
)


@pytest.mark.fuzz
@settings(max_examples=200, deadline=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(trees, max_size=4))
def test_encode_decode_round_trip(objects: list[tlv.Tlv]) -> None:
    encoded = tlv.encode_all(objects)
    assert tlv.decode(encoded) == tuple(objects)


@pytest.mark.fuzz
@settings(max_examples=200, deadline=500)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_parse_or_raise_tlv_error(data: bytes) -> None:
    try:
        objects = tlv.decode(data)
    except TlvError:
        return
    assert tlv.decode(tlv.encode_all(objects)) == objects
