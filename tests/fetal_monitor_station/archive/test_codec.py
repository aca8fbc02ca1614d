from __future__ import annotations

import pytest

from fetal_monitor_station.archive.codec import SLOTS_PER_MINUTE, MinuteBlock, minute_of
from fetal_monitor_station.errors import ArchiveError
from fetal_monitor_station.trace import CtgSample

T0 = 1_800_000_000.0  # a whole minute


def test_minute_of_uses_the_quarter_second_grid() -> None:
    assert minute_of(T0) == (int(T0 * 1000), 0)
    assert minute_of(T0 + 59.75) == (int(T0 * 1000), 239)
    assert minute_of(T0 + 60.0) == (int(T0 * 1000) + 60_000, 0)


def test_round_trip_keeps_values_to_a_quarter_unit_and_gaps() -> None:
    block = MinuteBlock(int(T0 * 1000))
    samples = [CtgSample(T0 + i / 4, 140.25 + i % 3, None if i % 2 else 150.5, 88.0, 12.3, i == 5, i == 9)
               for i in range(0, SLOTS_PER_MINUTE, 3)]
    for s in samples:
        block.put(minute_of(s.t_s)[1], s)
    blob = block.encode()
    assert len(blob) < 1200  # 240 slots x 9 bytes raw = 2160, compressed
    back = MinuteBlock.decode(block.minute_ms, blob).samples()
    assert len(back) == len(samples) == block.count()
    for a, b in zip(samples, back, strict=True):
        assert (a.t_s, a.fhr1_bpm, a.fhr2_bpm, a.mhr_bpm, a.movement, a.mark) == \
            (b.t_s, b.fhr1_bpm, b.fhr2_bpm, b.mhr_bpm, b.movement, b.mark)
        assert b.toco == 12.25  # quantised to 0.25


def test_time_range_filter() -> None:
    block = MinuteBlock(int(T0 * 1000))
    for i in range(SLOTS_PER_MINUTE):
        block.put(i, CtgSample(T0 + i / 4, 130.0))
    assert len(block.samples(T0 + 10, T0 + 20)) == 40


@pytest.mark.parametrize("blob", [b"", b"\x09abc", b"\x01not zlib", b"\x01x\x9c\x03\x00\x00\x00\x00\x01"])
def test_corrupt_blobs_raise_archive_error(blob: bytes) -> None:
    with pytest.raises(ArchiveError):
        MinuteBlock.decode(0, blob)
