"""ZT598 framing: exact bytes, LRC, long frames, stream splitting; fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.epp import protocol as pr
from kiosk.epp.driver import PinPad
from kiosk.epp.framing import Frame, KeyEvent, StreamDecoder, decode_frame, encode_frame, lrc
from kiosk.epp.simulator import EppDevice
from kiosk.errors import FrameError, KioskDeviceError

from ..conftest import ScriptedTransport

# LRC by hand: 30^30^31^30^03 = 02; 30^30^31^60^03 = 52
VERSION_REQUEST = bytes.fromhex("02303031300330 32".replace(" ", ""))  # STX "001" '0' ETX "02"
OK_EMPTY = bytes.fromhex("02303031600335 32".replace(" ", ""))  # STX "001" 0x60 ETX "52"


def test_exact_frames() -> None:
    assert encode_frame(pr.Cmd.VERSION) == VERSION_REQUEST
    assert lrc(b"0010\x03") == b"02"
    assert encode_frame(pr.RTN_OK) == OK_EMPTY
    assert decode_frame(OK_EMPTY) == Frame(pr.RTN_OK, b"")


def test_long_frame_uses_000_and_ends_at_etx() -> None:
    data = b"A" * 1200
    frame = encode_frame(pr.Cmd.MAC, data)
    assert frame[1:4] == b"000"
    assert decode_frame(frame) == Frame(pr.Cmd.MAC, data)
    assert StreamDecoder().feed(frame[:600]) == []


def test_stream_mixes_frames_and_key_events() -> None:
    dec = StreamDecoder()
    stream = b"*" + OK_EMPTY + b"\x0d\x41" + encode_frame(0x61, b"XY")
    out = []
    for i in range(0, len(stream), 3):
        out += dec.feed(stream[i:i + 3])
    assert out == [KeyEvent.DIGIT, Frame(pr.RTN_OK, b""), KeyEvent.ENTER, Frame(0x61, b"XY")]
    assert dec.dropped == 1


@pytest.mark.parametrize("bad", [OK_EMPTY[:-1] + b"0", OK_EMPTY.replace(b"001", b"002"), b"\x02abc\x03", b""])
def test_bad_frames(bad: bytes) -> None:
    with pytest.raises(FrameError):
        decode_frame(bad)


frames = st.builds(encode_frame, st.integers(0, 255), st.binary(max_size=80))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    frame = bytearray(draw(frames))
    for _ in range(draw(st.integers(1, 3))):
        frame[draw(st.integers(0, len(frame) - 1))] = draw(st.integers(0, 255))
    return bytes(frame[:draw(st.integers(0, len(frame)))])


@pytest.mark.fuzz
@settings(max_examples=200, deadline=500)
@given(st.one_of(st.binary(max_size=60), mutated()))
def test_decode_raises_only_frame_error(data: bytes) -> None:
    try:
        decode_frame(data)
    except KioskDeviceError:
        pass


@pytest.mark.fuzz
@settings(max_examples=200, deadline=500)
@given(st.lists(st.one_of(st.binary(max_size=30), frames, mutated()), max_size=6))
def test_stream_decoder_and_device_never_crash(chunks: list[bytes]) -> None:
    dec = StreamDecoder()
    dev = EppDevice(bytes(16))
    for chunk in chunks:
        for item in dec.feed(chunk):
            if isinstance(item, Frame):
                assert decode_frame(dev.handle(item)).code in (pr.RTN_OK, *pr.Rtn)


@pytest.mark.fuzz
@settings(max_examples=100, deadline=2000)
@given(st.one_of(frames, mutated(), st.binary(max_size=40)))
def test_driver_raises_only_ours_on_any_answer(answer: bytes) -> None:
    pad = PinPad(ScriptedTransport(answer), timeout_s=0.002)
    for call in (pad.version, pad.status, lambda: pad.pin_block(2, "6222020200112233445"),
                 lambda: pad.mac(3, b"data"), lambda: pad.authenticate(lambda ch: ch)):
        try:
            call()
        except KioskDeviceError:
            pass
    assert pad.next_key_event(0.0) in (None, *KeyEvent)
