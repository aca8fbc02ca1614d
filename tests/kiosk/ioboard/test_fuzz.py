"""Fuzz the I/O board parsers: random and mutated frames raise only IoProtocolError, never hang."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.errors import KioskDeviceError
from kiosk.ioboard import protocol as p
from kiosk.ioboard.driver import IoBoard
from kiosk.ioboard.simulator import BoardSimulator

from ..conftest import ScriptedTransport

pytestmark = pytest.mark.fuzz
FUZZ = settings(max_examples=200, deadline=500)

frames = st.builds(p.encode_frame, st.integers(0, 255), st.integers(0, 255),
                   st.binary(max_size=p.MAX_PAYLOAD))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    frame = bytearray(draw(frames))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(frame) - 1))
        frame[i] = draw(st.integers(0, 255))
    return bytes(frame)


@FUZZ
@given(st.one_of(st.binary(max_size=80), mutated()))
def test_decode_frame_only_raises_protocol_error(data: bytes) -> None:
    try:
        seq, ftype, payload = p.decode_frame(data)
    except p.IoProtocolError:
        return
    assert p.encode_frame(seq, ftype, payload) == data


@FUZZ
@given(st.lists(st.one_of(st.binary(max_size=30), frames, mutated()), max_size=8))
def test_stream_decoder_finds_every_intact_frame(chunks: list[bytes]) -> None:
    dec = p.FrameDecoder()
    out = dec.feed(b"".join(chunks))
    for seq, ftype, payload in out:
        assert 0 <= seq <= 255 and 0 <= ftype <= 255 and len(payload) <= p.MAX_PAYLOAD
    dec.reset()  # what a receiver does after INTER_BYTE_TIMEOUT_MS of silence mid-frame
    assert dec.pending == 0
    assert dec.feed(p.encode_frame(1, 2, b"ok")) == [(1, 2, b"ok")]


@FUZZ
@given(st.integers(0, 255), st.binary(max_size=p.MAX_PAYLOAD))
def test_payload_decoders_only_raise_protocol_error(ftype: int, payload: bytes) -> None:
    for decoder in (p.decode_status, p.decode_response, p.decode_led, p.decode_buzzer, p.decode_watchdog,
                    p.decode_accept, p.decode_motor_done, p.decode_sensor, p.decode_boot):
        try:
            decoder(payload)
        except p.IoProtocolError:
            pass


@FUZZ
@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=p.MAX_PAYLOAD))
def test_simulator_answers_any_command_frame(seq: int, ftype: int, payload: bytes) -> None:
    sim = BoardSimulator()
    sim.take_output()
    sim.feed(p.encode_frame(seq, ftype, payload))
    resp = p.FrameDecoder().feed(sim.take_output())
    assert len(resp) == 1 and resp[0][0] == seq and resp[0][1] == p.RESP


@settings(max_examples=100, deadline=2000)
@given(st.one_of(frames, mutated(), st.binary(max_size=40)))
def test_driver_raises_only_ours_on_any_answer(answer: bytes) -> None:
    board = IoBoard(ScriptedTransport(answer), response_timeout_s=0.002, retries=0)
    for call in (board.heartbeat, board.version, lambda: board.set_led(1, 1)):
        try:
            call()
        except KioskDeviceError:
            pass
    board.poll_event(0.0)
