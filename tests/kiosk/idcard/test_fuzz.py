"""Fuzz the SAM_V parsers and the text-block decoder: only our exceptions, no hang."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.errors import KioskDeviceError
from kiosk.idcard import frames as f
from kiosk.idcard.driver import IdCardReader
from kiosk.idcard.identity import encode_text_block, parse_text_block
from kiosk.idcard.simulator import IdCardSimulator
from kiosk.idcard.synthetic import synthetic_identity

from ..conftest import ScriptedTransport

pytestmark = pytest.mark.fuzz
FUZZ = settings(max_examples=200, deadline=1000)

responses = st.builds(f.encode_response, st.integers(0, 255), st.binary(max_size=300))
requests = st.builds(f.encode_request, st.integers(0, 0xFFFF))
VALID_BLOCK = encode_text_block(synthetic_identity(random.Random(3)))


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[bytes]) -> bytes:
    frame = bytearray(draw(base))
    for _ in range(draw(st.integers(1, 4))):
        frame[draw(st.integers(0, len(frame) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        frame = frame[:draw(st.integers(0, len(frame)))]
    return bytes(frame)


@FUZZ
@given(st.one_of(st.binary(max_size=64), mutated(responses), mutated(requests)))
def test_frame_decoders_raise_only_frame_error(data: bytes) -> None:
    for decode in (f.decode_response, f.decode_request, f.decode_card_data):
        try:
            decode(data)
        except KioskDeviceError:
            pass


@FUZZ
@given(mutated(st.just(VALID_BLOCK)))
def test_text_block_decoder_raises_only_card_data_error(block: bytes) -> None:
    try:
        parse_text_block(block.ljust(256, b"\x00"))
    except KioskDeviceError:
        pass


@settings(max_examples=100, deadline=2000)
@given(st.one_of(mutated(responses), st.binary(max_size=40), responses))
def test_driver_raises_only_ours_on_any_answer(answer: bytes) -> None:
    reader = IdCardReader(ScriptedTransport(answer), timeout_s=0.002)
    for call in (reader.find_card, reader.select_card, reader.read_identity, reader.read_newest_address):
        try:
            call()
        except KioskDeviceError:
            pass


@FUZZ
@given(st.lists(st.one_of(st.binary(max_size=20), requests, mutated(requests)), max_size=6))
def test_simulator_survives_any_input(chunks: list[bytes]) -> None:
    sim = IdCardSimulator()
    for chunk in chunks:
        sim.on_bytes(chunk)
