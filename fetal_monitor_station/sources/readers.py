"""Open a recording by its file name."""

from __future__ import annotations

from pathlib import Path

from ..trace import Trace
from .ctgz import SUFFIX, read_ctgz
from .errors import RecordingFormatError
from .fhrma import read_fhr
from .wfdb16 import read_wfdb


def read_any(path: str | Path) -> Trace:
    p = Path(path)
    name = p.name.lower()
    if name.endswith(SUFFIX) or name.endswith(".npz"):
        return read_ctgz(p)
    if name.endswith(".fhr"):
        return read_fhr(p)
    if name.endswith(".hea") or name.endswith(".dat"):
        return read_wfdb(p)
    raise RecordingFormatError(f"{p}: unknown recording type (expected .fhr, .hea/.dat or {SUFFIX})")
