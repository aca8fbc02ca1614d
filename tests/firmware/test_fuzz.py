"""Bad input never crashes the firmware: hypothesis against the parsers of the portable core
(run on CPython, where the same modules import). Each may only raise its own error type."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mchfw import cbor, corometrics, envelope, ioproto, mqtt, outbox, update

pytestmark = pytest.mark.fuzz
FUZZ = settings(max_examples=300, deadline=None)


@FUZZ
@given(st.binary(max_size=300))
def test_cbor_loads(data: bytes) -> None:
    try:
        cbor.loads(data)
    except cbor.CBORError:
        return


@FUZZ
@given(st.binary(max_size=300))
def test_envelope_open(data: bytes) -> None:
    for blob in (data, b"\xd0\x83" + data):
        try:
            envelope.open_envelope(blob, bytes(16), bytes(13), "mch/v1/x/ack")
        except envelope.EnvelopeError:
            continue


@FUZZ
@given(st.binary(max_size=400), st.integers(1, 64))
def test_corometrics_feed(data: bytes, chunk: int) -> None:
    d = corometrics.Decoder()
    for i in range(0, len(data), chunk):
        d.feed(data[i:i + chunk])
    assert d.stats["bytes_in"] == len(data)


@FUZZ
@given(st.binary(max_size=400))
def test_ioboard_frames(data: bytes) -> None:
    ioproto.FrameDecoder().feed(data)


class _Stream:
    def __init__(self, data: bytes) -> None:
        self.data = bytearray(data)

    def read(self, n: int) -> bytes:
        out = bytes(self.data[:n])
        del self.data[:n]
        return out

    def write(self, data: bytes) -> int:
        return len(data)

    def wait_readable(self, timeout_ms: int) -> bool:
        return True

    def close(self) -> None:
        return None


@FUZZ
@given(st.binary(max_size=200))
def test_mqtt_incoming(data: bytes) -> None:
    c = mqtt.Client("x", timeout_ms=10)
    c.sock = _Stream(data)
    c.on_message = lambda topic, payload, dup: None
    try:
        for _ in range(20):
            c.poll(0)
    except mqtt.MQTTError:
        return


@FUZZ
@given(st.binary(max_size=200))
def test_outbox_scan(data: bytes) -> None:
    for off, payload in outbox.scan(data):
        assert data[off + 7:off + 7 + len(payload)] == payload


@FUZZ
@given(st.binary(max_size=300))
def test_update_manifest(data: bytes) -> None:
    try:
        update.parse_manifest(data)
    except update.UpdateError:
        return
