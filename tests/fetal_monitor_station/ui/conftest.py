"""Xvfb on a display the server picks (-displayfd), shared by the UI tests of this folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.xvfb import xvfb

REPO = Path(__file__).resolve().parents[3]
SCREENSHOTS = REPO / "build" / "screenshots" / "station-ui"


@pytest.fixture(scope="module")
def xvfb_display() -> Iterator[str]:
    with xvfb() as display:
        yield display


def kivy_env(display: str, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "DISPLAY": display, "KIVY_HOME": str(tmp_path / "kivy"), "KIVY_NO_ARGS": "1",
            "KIVY_NO_FILELOG": "1", "PYTHONPATH": str(REPO)}


def png_colours(path: Path, sample_every: int = 7) -> tuple[tuple[int, int], int]:
    """(width, height) and the number of distinct colours in a sample of an 8-bit RGB(A) PNG."""
    import struct
    import zlib

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, idat, ihdr = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            ihdr = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", ihdr[:10])
    assert depth == 8 and colour_type in (2, 6)
    bpp = 3 if colour_type == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp + 1
    colours = set()
    for row in range(0, height, sample_every):  # filtered bytes: enough to tell a blank image
        line = raw[row * stride + 1:(row + 1) * stride]
        for x in range(0, width * bpp, bpp * sample_every):
            colours.add(line[x:x + 3])
    return (width, height), len(colours)
