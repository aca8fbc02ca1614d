"""Hypothesis: the decoder never raises, stays bounded, and finds every intact message."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fetal_monitor_station.monitor import corometrics as c
from fetal_monitor_station.monitor.events import HeartRate

pytestmark = pytest.mark.fuzz
FUZZ = settings(max_examples=200, deadline=500, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.lists(st.binary(max_size=80), max_size=20))
def test_random_bytes_never_crash(chunks: list[bytes]) -> None:
    d = c.CorometricsDecoder()
    for chunk in chunks:
        for event in d.feed(chunk):
            assert event is not None
    assert len(d._buf) <= c.MAX_FRAME_BYTES
    assert d.stats.bytes_in == sum(map(len, chunks))


hr_values = st.one_of(st.none(), st.integers(c.HR_VALID_BPM[0], c.HR_VALID_BPM[1]))
noise = st.binary(max_size=12).filter(lambda b: b"\x03" not in b)


@FUZZ
@given(st.lists(st.tuples(hr_values, noise), min_size=1, max_size=30), st.integers(1, 17))
def test_intact_messages_survive_noise_between_them(items: list[tuple[int | None, bytes]], chunk: int) -> None:
    """Noise followed by ETX-delimited messages: every message after the noise is decoded."""
    stream = b"".join(n + b"\x03" + c.hr_frame(1, v) for v, n in items)
    d = c.CorometricsDecoder()
    events = []
    for i in range(0, len(stream), chunk):
        events += d.feed(stream[i:i + chunk])
    assert [e for e in events if isinstance(e, HeartRate)] == [HeartRate(1, v) for v, _ in items]


@FUZZ
@given(st.lists(hr_values, min_size=1, max_size=30), st.data())
def test_corrupting_one_byte_loses_at_most_two_messages(values: list[int | None], data: st.DataObject) -> None:
    stream = bytearray(b"".join(c.hr_frame(1, v) for v in values))
    pos = data.draw(st.integers(0, len(stream) - 1))
    stream[pos] = data.draw(st.integers(0, 255))
    d = c.CorometricsDecoder()
    events = d.feed(bytes(stream))
    assert len(values) - 2 <= len(events) <= len(values) + 1
    assert d.stats.frames_ok + d.stats.errors >= len(values) - 2
