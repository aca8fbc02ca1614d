"""The station's own recording format, "mch-ctg" v1: one compressed NumPy `.npz` archive.

Arrays: `fhr1_bpm`, `fhr2_bpm`, `mhr_bpm`, `toco` (float32, NaN = no signal), `movement`,
`mark` (bool), and `header`: a UTF-8 JSON string with `format` ("mch-ctg"), `version` (1),
`sample_hz`, `start_time_s`, `source`, `toco_unit`, `units` and `provenance`. Read with
`allow_pickle=False`: the file never carries Python objects."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..trace import Trace
from .errors import RecordingFormatError

FORMAT_NAME = "mch-ctg"
FORMAT_VERSION = 1
SUFFIX = ".ctg.npz"
ARRAYS = ("fhr1_bpm", "fhr2_bpm", "mhr_bpm", "toco")


def write_ctgz(trace: Trace, path: str | Path) -> None:
    header = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "sample_hz": trace.sample_hz,
              "start_time_s": trace.start_time_s, "source": trace.source, "toco_unit": trace.toco_unit,
              "units": trace.units(), "provenance": trace.provenance}
    arrays = {name: getattr(trace, name).astype(np.float32) for name in ARRAYS}
    with open(path, "wb") as fh:
        np.savez_compressed(fh, header=np.array(json.dumps(header)), movement=trace.movement, mark=trace.mark,
                            **arrays)


def read_ctgz(path: str | Path) -> Trace:
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            header = json.loads(str(z["header"]))
            arrays = {name: z[name].astype(np.float64) for name in ARRAYS}
            movement, mark = z["movement"], z["mark"]
    except (OSError, ValueError, KeyError) as err:
        raise RecordingFormatError(f"{p}: not an {FORMAT_NAME} archive ({err})") from err
    if header.get("format") != FORMAT_NAME or header.get("version") != FORMAT_VERSION:
        raise RecordingFormatError(f"{p}: format {header.get('format')!r} v{header.get('version')!r}, "
                                   f"expected {FORMAT_NAME!r} v{FORMAT_VERSION}")
    return Trace.from_arrays(arrays["fhr1_bpm"], arrays["fhr2_bpm"], arrays["mhr_bpm"], arrays["toco"], movement,
                             mark, start_time_s=float(header["start_time_s"]), source=str(header["source"]),
                             provenance={str(k): str(v) for k, v in header["provenance"].items()},
                             sample_hz=int(header["sample_hz"]), toco_unit=str(header["toco_unit"]))
