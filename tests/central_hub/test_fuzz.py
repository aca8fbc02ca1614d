"""Fuzz: random bytes on random topics never crash the handler and are always quarantined."""

from __future__ import annotations

from collections.abc import Iterator

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from central_hub.outcome import Status
from central_hub.store import open_store
from mch_link import cose
from tests.central_hub.helpers import FakeDevice, Rig, entry, inbound

pytestmark = pytest.mark.fuzz

DEVICES = ["sim-001", "sim-002"]
topics = st.one_of(
    st.text(max_size=80),
    st.builds(lambda d, k: f"mch/v1/{d}/{k}", st.sampled_from([*DEVICES, "sim-404", "hub", "x"]),
              st.sampled_from(["rec", "ctg", "alarm", "state", "ack", "cmd", "zzz"])),
)
# random bytes, plus CBOR shaped like a COSE_Encrypt0 so the fuzzer gets past the first check
cose_like = st.builds(
    lambda prot, ct: cbor2.dumps(cbor2.CBORTag(16, [cbor2.dumps(prot), {}, ct])),
    st.dictionaries(st.sampled_from([1, 3, 4, 6, -65537, -65538]),
                    st.one_of(st.integers(), st.binary(max_size=8), st.text(max_size=8),
                              st.just(cose.ALG_AES_CCM_16_64_128), st.just(b"sim-001")), max_size=6),
    st.binary(max_size=64))
payloads = st.one_of(st.binary(max_size=512), cose_like)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('hub-fuzz') / 'hub.db'}")
    yield Rig(store, [entry(d) for d in DEVICES])
    store.close()


@settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(topic=topics, payload=payloads, dup=st.booleans())
def test_random_input_is_quarantined_never_raised(rig: Rig, topic: str, payload: bytes, dup: bool) -> None:
    before = sum(rig.store.quarantine_counts().values())
    out = rig.ingestor.process([inbound(topic, payload, dup)])[0]
    assert out.status is Status.QUARANTINED and out.reason
    assert sum(rig.store.quarantine_counts().values()) == before + 1


@settings(max_examples=100, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flip=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_any_single_bit_flip_of_a_valid_envelope_is_quarantined(rig: Rig, flip: int, bit: int) -> None:
    dev = FakeDevice(rig.registry["sim-001"], counter=10_000 + flip % 1_000_000)
    where, payload = dev.seal(dev.records(1, 2))
    pos = flip % len(payload)
    mutated = payload[:pos] + bytes([payload[pos] ^ (1 << bit)]) + payload[pos + 1:]
    out = rig.ingestor.process([inbound(where, mutated)])[0]
    assert out.status is Status.QUARANTINED
