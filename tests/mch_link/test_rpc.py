"""mch_link.rpc without a broker: the sealed bodies, key separation, the device's response guard,
and the client's timeout, over a fake transport that plays the hub."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from mch_link import envelope, rpc
from mch_link.errors import EnvelopeError, SchemaError
from mch_link.keys import LinkKeys
from mch_link.topics import Kind, topic

DEVICE = "kiosk-001"
KEYS = LinkKeys.generate(DEVICE)
CORR = bytes(range(16))


def test_request_round_trip_and_what_does_not_open() -> None:
    k = rpc.rpc_keys(KEYS)
    sealed = rpc.seal_request(k.request, DEVICE, 7, "patient.find", CORR, {"outpatient_no": "MZ1"}, None, 1000)
    req = rpc.open_request(k.request, topic(DEVICE, Kind.REQUEST), sealed)
    assert (req.method, req.corr, req.idem, req.args, req.counter) == ("patient.find", CORR.hex(), None,
                                                                        {"outpatient_no": "MZ1"}, 7)
    with pytest.raises(EnvelopeError):  # moved to another device's topic
        rpc.open_request(k.request, topic("kiosk-002", Kind.REQUEST), sealed)
    with pytest.raises(EnvelopeError):  # a request is not a record: the uplink key does not open it
        envelope.open_envelope(sealed, KEYS.uplink, topic(DEVICE, Kind.REQUEST))
    with pytest.raises(EnvelopeError):  # another device's keys
        rpc.open_request(rpc.rpc_keys(LinkKeys.generate(DEVICE)).request, topic(DEVICE, Kind.REQUEST), sealed)
    tampered = bytearray(sealed)
    tampered[-3] ^= 1
    with pytest.raises(EnvelopeError):
        rpc.open_request(k.request, topic(DEVICE, Kind.REQUEST), bytes(tampered))


def test_derived_keys_differ_from_the_link_keys_and_each_other() -> None:
    k = rpc.rpc_keys(KEYS)
    assert len({k.request.key, k.response.key, KEYS.uplink.key, KEYS.downlink.key}) == 4
    assert rpc.rpc_keys(KEYS) == k  # deterministic: hub and device derive the same


def test_bodies_are_validated() -> None:
    k = rpc.rpc_keys(KEYS)
    with pytest.raises(SchemaError):
        rpc.seal_request(k.request, DEVICE, 1, "Bad Method", CORR, {}, None, 0)
    with pytest.raises(SchemaError):
        rpc.seal_request(k.request, DEVICE, 1, "patient.find", CORR, {}, "short", 0)
    with pytest.raises(SchemaError):
        rpc.seal_response(k.response, DEVICE, 1, CORR.hex(), error=("Not A Code", "x"), now_ms=0)


class FakeHub:
    """Plays broker + hub: answers each request (or not) with a response sealed under the response key."""

    def __init__(self, answer: bool = True) -> None:
        self.on_response: Any = None
        self.answer = answer
        self.counter = 0
        self.sent: list[bytes] = []
        self.hub_counter = 100
        self.epoch = bytes(range(1, 9))

    def next_counter(self) -> int:
        self.counter += 1
        return self.counter

    def publish_request(self, payload: bytes, correlation: bytes) -> bool:
        k = rpc.rpc_keys(KEYS)
        req = rpc.open_request(k.request, topic(DEVICE, Kind.REQUEST), payload)
        self.hub_counter += 1
        rsp = rpc.seal_response(k.response, DEVICE, self.hub_counter, req.corr, result={"echo": req.args}, now_ms=0)
        self.sent.append(rsp)
        if self.answer:
            threading.Timer(0.01, self.on_response, (rsp, correlation)).start()
        return True


def test_call_returns_the_result_and_a_replayed_response_is_refused() -> None:
    hub = FakeHub()
    client = rpc.RpcClient(hub, DEVICE, KEYS)
    assert client.call("patient.find", {"n": 1}) == {"echo": {"n": 1}}
    hub.on_response(hub.sent[-1], None)  # replayed after the call ended
    assert client.refused_responses == 1
    hub.on_response(b"\x00garbage", None)
    assert client.refused_responses == 2


def test_a_response_for_another_request_or_under_another_key_is_refused() -> None:
    hub = FakeHub(answer=False)
    client = rpc.RpcClient(hub, DEVICE, KEYS)
    waiting: list[Any] = []

    def caller() -> None:
        try:
            client.call("patient.find", {}, timeout_s=0.5)
        except rpc.RpcTimeout as exc:
            waiting.append(exc)

    t = threading.Thread(target=caller)
    t.start()
    while not hub.sent:
        time.sleep(0.005)
    foreign = rpc.rpc_keys(LinkKeys.generate(DEVICE))
    forged = rpc.seal_response(foreign.response, DEVICE, 5, rpc.open_response(
        rpc.rpc_keys(KEYS).response, DEVICE, hub.sent[0]).corr, result="forged", now_ms=0)
    hub.on_response(forged, None)
    hub.on_response(hub.sent[0], b"\x01" * 16)  # genuine body, but other correlation data on the wire
    t.join(2)
    assert len(waiting) == 1 and client.refused_responses == 2


def test_timeout_and_not_connected() -> None:
    client = rpc.RpcClient(FakeHub(answer=False), DEVICE, KEYS)
    with pytest.raises(rpc.RpcTimeout):
        client.call("patient.find", {}, timeout_s=0.1)

    class Offline(FakeHub):
        def publish_request(self, payload: bytes, correlation: bytes) -> bool:
            return False

    with pytest.raises(rpc.RpcTimeout, match="not connected"):
        rpc.RpcClient(Offline(), DEVICE, KEYS).call("patient.find", {})


def test_refusal_carries_the_code() -> None:
    class Refusing(FakeHub):
        def publish_request(self, payload: bytes, correlation: bytes) -> bool:
            k = rpc.rpc_keys(KEYS)
            req = rpc.open_request(k.request, topic(DEVICE, Kind.REQUEST), payload)
            rsp = rpc.seal_response(k.response, DEVICE, 1, req.corr, error=("slot-full", "taken"), now_ms=0)
            threading.Timer(0.01, self.on_response, (rsp, correlation)).start()
            return True

    with pytest.raises(rpc.RpcRefused) as exc:
        rpc.RpcClient(Refusing(), DEVICE, KEYS).call("booking.hold", {}, idempotency_key="a" * 32)
    assert exc.value.code == "slot-full"


def test_a_restored_outbox_or_services_database_never_repeats_a_nonce() -> None:
    """Counters start again after a restore; the boot epoch in the Partial IV keeps nonces apart."""
    from mch_link import cose, envelope

    k = rpc.rpc_keys(KEYS)
    where = topic(DEVICE, Kind.REQUEST)
    before, after = bytes(8), bytes([9]) * 8
    a = rpc.seal_request(k.request, DEVICE, 7, "patient.find", b"c" * 16, {}, None, 0, before)
    b = rpc.seal_request(k.request, DEVICE, 7, "patient.find", b"c" * 16, {}, None, 0, after)
    ivs = {envelope.peek(x).protected[cose.H_PARTIAL_IV] for x in (a, b)}
    assert len(ivs) == 2
    assert rpc.open_request(k.request, where, b).counter == 7  # the hub still opens it

    guard = rpc.ResponseGuard()
    x, y = "0a" * 16, "0b" * 16
    old = rpc.open_response(k.response, DEVICE, rpc.seal_response(k.response, DEVICE, 1, x, now_ms=0, epoch=before))
    new = rpc.open_response(k.response, DEVICE, rpc.seal_response(k.response, DEVICE, 1, y, now_ms=0, epoch=after))
    assert guard.admit(old, {x, y}) and guard.admit(new, {x, y})  # counter 1 again, new epoch
    assert not guard.admit(new, {x, y})  # the same (epoch, counter) twice is a replay
