"""Link-key rotation in the contract: the replaced key opens only during its grace window,
sealing always uses the new key, the file round-trips, and request keys follow."""

from __future__ import annotations

import pytest

from mch_link import envelope, rpc
from mch_link.envelope import Record
from mch_link.errors import EnvelopeError, LinkError
from mch_link.keys import LinkKeys

DEVICE = "kiosk-009"
TOPIC = f"mch/v1/{DEVICE}/rec"
NOW_MS = 1_800_000_000_000


def _sealed(keys: LinkKeys, counter: int = 1) -> bytes:
    return envelope.seal(keys.uplink, DEVICE, TOPIC, counter, "sim/1", [Record(1, {"seq": 1}, NOW_MS)], NOW_MS)


def test_old_key_opens_during_the_grace_window_only() -> None:
    old = LinkKeys.generate(DEVICE)
    new = old.rotated(NOW_MS + 60_000)
    in_flight = _sealed(old)
    opened = envelope.open_envelope(in_flight, new.uplink, TOPIC, now_ms=NOW_MS)
    assert opened.previous_key and opened.records[0].body == {"seq": 1}
    assert not envelope.open_envelope(_sealed(new), new.uplink, TOPIC, now_ms=NOW_MS).previous_key
    with pytest.raises(EnvelopeError) as late:
        envelope.open_envelope(in_flight, new.uplink, TOPIC, now_ms=NOW_MS + 60_000)
    assert late.value.reason == "auth-failed"
    with pytest.raises(EnvelopeError):  # the old key alone never opens what the new one sealed
        envelope.open_envelope(_sealed(new), old.uplink, TOPIC, now_ms=NOW_MS)


def test_a_second_rotation_forgets_the_first_keys() -> None:
    first = LinkKeys.generate(DEVICE)
    second = first.rotated(NOW_MS + 60_000)
    third = second.rotated(NOW_MS + 60_000)
    assert third.uplink.previous is not None and third.uplink.previous.same_material(second.uplink)
    assert third.uplink.previous.previous is None
    with pytest.raises(EnvelopeError):
        envelope.open_envelope(_sealed(first), third.uplink, TOPIC, now_ms=NOW_MS)


def test_file_round_trip_keeps_previous_keys_and_window() -> None:
    keys = LinkKeys.generate(DEVICE).rotated(NOW_MS)
    back = LinkKeys.from_json(keys.to_json())
    assert back == keys
    assert "previous" not in LinkKeys.generate(DEVICE).to_json()
    with pytest.raises(LinkError):
        LinkKeys.from_json(keys.to_json().replace(f'"until_ms": {NOW_MS}', '"until_ms": "soon"'))


def test_request_keys_follow_the_rotation() -> None:
    old = LinkKeys.generate(DEVICE)
    new = old.rotated(NOW_MS + 60_000)
    request = rpc.seal_request(rpc.rpc_keys(old).request, DEVICE, 5, "patient.find", b"\x01" * 16, {}, None, NOW_MS)
    derived = rpc.rpc_keys(new).request
    assert derived.previous is not None and derived.previous.same_material(rpc.rpc_keys(old).request)
    opened = envelope.open_envelope(request, derived, f"mch/v1/{DEVICE}/req", now_ms=NOW_MS)
    assert opened.previous_key and opened.records[0].body["method"] == "patient.find"
