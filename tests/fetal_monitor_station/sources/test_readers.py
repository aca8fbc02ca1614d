"""Write-then-read round trips of every recording format (files made by the test)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fetal_monitor_station.sources.ctgz import read_ctgz, write_ctgz
from fetal_monitor_station.sources.errors import RecordingFormatError
from fetal_monitor_station.sources.fhrma import read_fhr, write_fhr
from fetal_monitor_station.sources.readers import read_any
from fetal_monitor_station.sources.synthetic import SyntheticSpec, generate
from fetal_monitor_station.sources.wfdb16 import read_wfdb, write_wfdb


@pytest.fixture(scope="module")
def trace():  # type: ignore[no-untyped-def]
    return generate(SyntheticSpec(duration_s=600.0, seed=2, signal_loss_fraction=0.2, with_mhr=True))[0]


def test_fhr_round_trip(tmp_path: Path, trace) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "rec.fhr"
    write_fhr(trace, p)
    back = read_any(p)
    assert len(back) == len(trace)
    assert np.array_equal(np.isnan(back.fhr1_bpm), np.isnan(trace.fhr1_bpm))
    ok = ~np.isnan(trace.fhr1_bpm)
    assert np.max(np.abs(back.fhr1_bpm[ok] - trace.fhr1_bpm[ok])) <= 0.125
    assert np.max(np.abs(back.toco - trace.toco)) <= 0.25


def test_wfdb_round_trip_with_comments(tmp_path: Path, trace) -> None:  # type: ignore[no-untyped-def]
    write_wfdb(trace, tmp_path / "1234", comments={"pH": "7.25", "Apgar5": "9"})
    back = read_wfdb(tmp_path / "1234.hea")
    assert len(back) == len(trace) and back.provenance["pH"] == "7.25"
    ok = ~np.isnan(trace.fhr1_bpm)
    assert np.array_equal(np.isnan(back.fhr1_bpm), ~ok)
    assert np.max(np.abs(back.fhr1_bpm[ok] - trace.fhr1_bpm[ok])) <= 0.005
    assert read_any(tmp_path / "1234.dat").source.endswith("1234.hea")


def test_ctgz_round_trip_keeps_metadata(tmp_path: Path, trace) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "rec.ctg.npz"
    write_ctgz(trace, p)
    back = read_ctgz(p)
    assert back.provenance == trace.provenance and back.source == trace.source
    assert np.allclose(back.mhr_bpm, trace.mhr_bpm, atol=1e-3, equal_nan=True)
    assert np.array_equal(back.movement, trace.movement)


def test_bad_files_raise_our_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.fhr"
    bad.write_bytes(b"\x00\x01\x02")
    with pytest.raises(RecordingFormatError):
        read_fhr(bad)
    npz = tmp_path / "x.ctg.npz"
    npz.write_bytes(b"not a zip")
    with pytest.raises(RecordingFormatError):
        read_ctgz(npz)
    (tmp_path / "y.hea").write_text("y 2 4 10\ny.dat 212 100 12 0 0 0 0 FHR\ny.dat 212 100 12 0 0 0 0 UC\n")
    with pytest.raises(RecordingFormatError):
        read_wfdb(tmp_path / "y.hea")
    with pytest.raises(RecordingFormatError):
        read_any(tmp_path / "z.txt")


@pytest.mark.fuzz
@settings(max_examples=100, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=600))
def test_fhr_reader_never_crashes_unexpectedly(tmp_path: Path, blob: bytes) -> None:
    p = tmp_path / "f.fhr"
    p.write_bytes(blob)
    try:
        tr = read_fhr(p)
    except RecordingFormatError:
        return
    assert len(tr) == (len(blob) - 4) // 6
