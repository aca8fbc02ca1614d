"""One protocol definition: the station's decoder and the firmware's decoder (on the unix
port) see the same byte streams and must produce the same events and the same error counts."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fetal_monitor_station.monitor import corometrics as station
from fetal_monitor_station.monitor import events as ev
from tests.firmware.conftest import run_micropython


def _station_events(data: bytes, sizes: list[int]) -> list[list]:
    d = station.CorometricsDecoder()
    out: list[list] = []
    pos = i = 0
    while pos < len(data):
        n = sizes[i % len(sizes)]
        for e in d.feed(data[pos:pos + n]):
            out.append(_as_list(e))
        pos += n
        i += 1
    s = d.stats
    out.append(["stats", {"bytes_in": s.bytes_in, "frames_ok": s.frames_ok, "framing_errors": s.framing_errors,
                          "unknown_codes": s.unknown_codes, "bad_values": s.bad_values,
                          "bytes_discarded": s.bytes_discarded}])
    return out


def _as_list(e: object) -> list:
    if isinstance(e, ev.HeartRate):
        return ["hr", e.channel, e.hr_bpm]
    if isinstance(e, ev.UterineActivity):
        return ["ua", e.toco]
    if isinstance(e, ev.Modes):
        return ["modes", e.hr_mode, e.ua_mode]
    if isinstance(e, ev.EventMark):
        return ["mark"]
    if isinstance(e, ev.FetalMovement):
        return ["fm", e.state.value]
    if isinstance(e, ev.RecorderStatus):
        return ["paper", e.paper_out]
    if isinstance(e, ev.Annotation):
        return ["annotation", e.code, e.data.hex()]
    raise AssertionError(f"unexpected event {e!r}")


def _firmware_events(tmp: Path, data: bytes, sizes: list[int]) -> list[list]:
    stream = tmp / "stream.bin"
    stream.write_bytes(data)
    proc = run_micropython(["coro_decode.py", str(stream), ",".join(map(str, sizes))], timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _session(rng: random.Random, seconds: int) -> bytes:
    """A plausible monitor session: 4 Hz HR1/HR2, UA, FM, modes each minute, marks, noise."""
    out = bytearray(station.modes_frame("U", "T"))
    for s in range(seconds):
        for _ in range(4):
            out += station.hr_frame(1, rng.choice([None, rng.randint(30, 240)]))
            out += station.hr_frame(2, rng.choice([None, rng.randint(60, 200)]))
            out += station.ua_frame(rng.choice([None, rng.randint(0, 127)]))
            out += station.fm_frame(rng.choice(list(ev.FetalMovementState)))
        if s % 7 == 3:
            out += station.mark_frame()
        if s % 11 == 5:
            out += station.paper_frame(rng.random() < 0.5)
        if s % 5 == 2:
            out += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12)))  # line noise
        if s % 13 == 4:
            out += b"\x39\x63\x30" + b"NIBP120/80" + b"\x03"  # annotation
    return bytes(out)


@pytest.mark.integration
def test_same_events_on_a_recorded_style_session(tmp_path: Path) -> None:
    rng = random.Random(4)
    data = _session(rng, 60)
    sizes = [1, 7, 64, 3, 250]
    want = _station_events(data, sizes)
    assert len(want) > 900
    assert _firmware_events(tmp_path, data, sizes) == want


@pytest.mark.integration
@pytest.mark.fuzz
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=600), sizes=st.lists(st.integers(1, 80), min_size=1, max_size=5))
def test_same_result_on_arbitrary_bytes(tmp_path: Path, data: bytes, sizes: list[int]) -> None:
    # Mix real frames into the garbage so that framing and resync paths are both exercised.
    mixed = data[: len(data) // 2] + station.hr_frame(1, 150) + data[len(data) // 2:] + station.ua_frame(20)
    assert _firmware_events(tmp_path, mixed, sizes) == _station_events(mixed, sizes)
