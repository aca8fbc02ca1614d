"""Fuzz the ESC/POS decoder and the status parser: only PrinterError, no hang."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.errors import KioskDeviceError
from kiosk.receipt.commands import encode_text, parse_status
from kiosk.receipt.decode import decode
from kiosk.receipt.layout import Item, Receipt, render_bytes

pytestmark = pytest.mark.fuzz
FUZZ = settings(max_examples=200, deadline=1000)
GOLDEN = render_bytes(Receipt("样例医院", "挂号凭条", "测试", (Item("挂号", 500),), None, "T-0001",
                              dt.datetime(2026, 1, 1)))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(GOLDEN)
    for _ in range(draw(st.integers(1, 6))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[:draw(st.integers(0, len(data)))])


@FUZZ
@given(st.one_of(st.binary(max_size=200), mutated()))
def test_decoder_raises_only_printer_error(data: bytes) -> None:
    try:
        decode(data)
    except KioskDeviceError:
        pass


@FUZZ
@given(st.text(max_size=80))
def test_any_text_encodes_and_decodes(text: str) -> None:
    decoded = decode(encode_text(text))
    assert all("\n" not in line for line in decoded.lines)


@FUZZ
@given(st.tuples(*[st.integers(0, 255)] * 4))
def test_status_parser(values: tuple[int, int, int, int]) -> None:
    try:
        parse_status(*values)
    except KioskDeviceError:
        pass
