"""FHRMA `.fhr` recordings (little-endian): uint32 start time, then 6-byte records at 4 Hz:
uint16 FHR1*4, uint16 FHR2*4, uint8 TOCO*2, uint8 quality. 0 = no signal."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..trace import Trace
from .errors import RecordingFormatError

HEADER_BYTES = 4
RECORD = np.dtype([("fhr1", "<u2"), ("fhr2", "<u2"), ("toco", "u1"), ("q", "u1")])
FHR_SCALE = 4.0
TOCO_SCALE = 2.0


def read_fhr(path: str | Path) -> Trace:
    p = Path(path)
    raw = p.read_bytes()
    if len(raw) < HEADER_BYTES or (len(raw) - HEADER_BYTES) % RECORD.itemsize:
        raise RecordingFormatError(f"{p}: not an FHRMA .fhr file (size {len(raw)} is not 4 + 6*n bytes)")
    start = int(np.frombuffer(raw[:HEADER_BYTES], "<u4")[0])
    d = np.frombuffer(raw[HEADER_BYTES:], RECORD)
    f1 = d["fhr1"] / FHR_SCALE
    f2 = d["fhr2"] / FHR_SCALE
    f1[f1 == 0] = np.nan
    f2[f2 == 0] = np.nan
    return Trace.from_arrays(f1, f2, None, d["toco"] / TOCO_SCALE, start_time_s=float(start), source=str(p),
                             provenance={"format": "fhrma-fhr"}, toco_unit="%")


def write_fhr(trace: Trace, path: str | Path) -> None:
    """Write FHR1/FHR2/TOCO as an FHRMA .fhr file (NaN -> 0, quantised to 1/4 bpm, 1/2 toco unit)."""
    d = np.zeros(len(trace), RECORD)
    for name, arr, scale, top in (("fhr1", trace.fhr1_bpm, FHR_SCALE, 65535), ("fhr2", trace.fhr2_bpm, FHR_SCALE, 65535),
                                  ("toco", trace.toco, TOCO_SCALE, 255)):
        d[name] = np.clip(np.round(np.nan_to_num(arr, nan=0.0) * scale), 0, top)
    Path(path).write_bytes(np.array([int(trace.start_time_s)], "<u4").tobytes() + d.tobytes())
