"""The envelope against committed vectors, an independent COSE implementation, and properties."""

from __future__ import annotations

import json
from pathlib import Path

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycose.keys import SymmetricKey
from pycose.messages import CoseMessage

from mch_link import cose
from mch_link.envelope import Record, open_envelope, peek, seal
from mch_link.errors import EnvelopeError
from mch_link.keys import DirectionKey

VECTORS = json.loads((Path(__file__).parent / "vectors" / "envelope.json").read_text(encoding="utf-8"))["vectors"]


def _key(v: dict) -> DirectionKey:
    return DirectionKey(bytes.fromhex(v["key"]), bytes.fromhex(v["base_iv"]))


def _records(v: dict) -> list[Record]:
    return [Record(r["id"], r["b"], r["t"]) for r in v["records"]]


@pytest.mark.parametrize("v", VECTORS, ids=[v["name"] for v in VECTORS])
def test_seal_reproduces_vector_bytes(v: dict) -> None:
    got = seal(_key(v), v["device_id"], v["topic"], v["counter"], v["schema"], _records(v), v["sealed_at_ms"],
               bytes.fromhex(v["epoch"]))
    assert got.hex() == v["envelope"]


@pytest.mark.parametrize("v", VECTORS, ids=[v["name"] for v in VECTORS])
def test_open_vector(v: dict) -> None:
    msg = open_envelope(bytes.fromhex(v["envelope"]), _key(v), v["topic"])
    assert (msg.device_id, msg.counter, msg.schema, msg.sealed_at_ms, msg.epoch.hex()) == (
        v["device_id"], v["counter"], v["schema"], v["sealed_at_ms"], v["epoch"])
    assert list(msg.records) == _records(v)


@pytest.mark.parametrize("v", VECTORS, ids=[v["name"] for v in VECTORS])
def test_independent_cose_implementation_opens_vector(v: dict) -> None:
    """pycose (RFC 9052/9053) decrypts with the Base IV + Partial IV rule and the topic as AAD."""
    msg = CoseMessage.decode(bytes.fromhex(v["envelope"]))
    key = SymmetricKey(k=bytes.fromhex(v["key"]))
    key.base_iv = bytes.fromhex(v["base_iv"])
    msg.key = key
    msg.external_aad = v["topic"].encode()
    assert msg.decrypt().hex() == v["plaintext"]


def test_nonce_rule_matches_rfc9052() -> None:
    base = bytes(range(1, 14))
    assert cose.nonce_for(base, b"\x01\x02") == base[:11] + bytes([base[11] ^ 1, base[12] ^ 2])


def test_wrong_topic_does_not_open() -> None:
    v = VECTORS[1]
    other = v["topic"].replace("/rec", "/ctg")
    with pytest.raises(EnvelopeError) as err:
        open_envelope(bytes.fromhex(v["envelope"]), _key(v), other)
    assert err.value.reason == "auth-failed"


def test_wrong_key_does_not_open() -> None:
    v = VECTORS[0]
    with pytest.raises(EnvelopeError) as err:
        open_envelope(bytes.fromhex(v["envelope"]), DirectionKey.generate(), v["topic"])
    assert err.value.reason == "auth-failed"


def test_counter_out_of_range_refused() -> None:
    with pytest.raises(EnvelopeError):
        seal(DirectionKey.generate(), "kiosk-001", "mch/v1/kiosk-001/rec", 2**40, "sim/1",
             [Record(1, {"seq": 1, "fhr_bpm": [], "toco": []})])


def test_unprotected_header_content_refused() -> None:
    v = VECTORS[0]
    tag = cbor2.loads(bytes.fromhex(v["envelope"]))
    tag.value[1] = {cose.H_IV: b"\x00" * 13}
    with pytest.raises(EnvelopeError) as err:
        peek(cbor2.dumps(tag))
    assert err.value.reason == "malformed"


bodies = st.dictionaries(
    st.text(min_size=1, max_size=8),
    st.one_of(st.integers(-2**31, 2**31), st.text(max_size=20), st.booleans(), st.none(),
              st.lists(st.integers(0, 255), max_size=8)),
    max_size=5,
)
records = st.lists(
    st.builds(Record, st.integers(0, 2**40), bodies, st.one_of(st.none(), st.integers(0, 2**45))),
    min_size=1, max_size=5,
)


@settings(max_examples=150, deadline=None)
@given(records=records, counter=st.integers(0, 2**40 - 1), sealed=st.one_of(st.none(), st.integers(0, 2**45)))
def test_round_trip(records: list[Record], counter: int, sealed: int | None) -> None:
    key = DirectionKey(b"k" * 16, b"i" * 13)
    topic = "mch/v1/station-01/ctg"
    data = seal(key, "station-01", topic, counter, "sim/1", records, sealed)
    msg = open_envelope(data, key, topic)
    assert list(msg.records) == records and msg.counter == counter and msg.sealed_at_ms == sealed


@settings(max_examples=200, deadline=None)
@given(bit=st.integers(min_value=0))
def test_any_bit_flip_is_rejected(bit: int) -> None:
    v = VECTORS[2]
    data = bytearray(bytes.fromhex(v["envelope"]))
    i = bit % (len(data) * 8)
    data[i // 8] ^= 1 << (i % 8)
    with pytest.raises(EnvelopeError):
        open_envelope(bytes(data), _key(v), v["topic"])


@pytest.mark.fuzz
@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_garbage_raises_only_envelope_error(data: bytes) -> None:
    with pytest.raises(EnvelopeError):
        open_envelope(data, DirectionKey(b"k" * 16, b"i" * 13), "mch/v1/kiosk-001/rec")


@settings(max_examples=200, deadline=None)
@given(protected=st.binary(max_size=70_000), aad=st.binary(max_size=300))
def test_enc_structure_is_the_cbor_of_the_rfc_array(protected: bytes, aad: bytes) -> None:
    assert cose.enc_structure(protected, aad) == cbor2.dumps(["Encrypt0", protected, aad])


@settings(max_examples=200, deadline=None)
@given(base=st.binary(min_size=13, max_size=13), counter=st.integers(0, 2**40 - 1))
def test_nonce_is_base_iv_xor_padded_partial_iv(base: bytes, counter: int) -> None:
    piv = cose.encode_partial_iv(counter)
    padded = bytes(13 - len(piv)) + piv
    assert cose.nonce_for(base, piv) == bytes(a ^ b for a, b in zip(base, padded, strict=True))
