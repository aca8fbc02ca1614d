"""CTU-UHB WFDB records: a `.hea` header and a format-16 `.dat` (int16 LE, interleaved).

A small reader of our own for the subset CTU-UHB uses: one signal file, format 16, a gain and
baseline per signal, `#` comment lines (outcome fields) kept as provenance."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..trace import SAMPLE_HZ, Trace
from .errors import RecordingFormatError

FORMAT_16 = "16"
DEFAULT_GAIN = 200.0  # WFDB default ADC gain when the header gives none


def _parse_header(p: Path) -> tuple[int, int, int, list[tuple[str, float, int, str]], dict[str, str]]:
    lines = p.read_text(encoding="ascii", errors="replace").splitlines()
    body = [ln for ln in lines if ln.strip() and not ln.startswith("#")]
    if not body:
        raise RecordingFormatError(f"{p}: empty WFDB header")
    rec = body[0].split()
    try:
        n_sig, fs, n_samp = int(rec[1]), int(float(rec[2].split("/")[0])), int(rec[3]) if len(rec) > 3 else -1
    except (IndexError, ValueError) as err:
        raise RecordingFormatError(f"{p}: bad record line {body[0]!r}") from err
    sigs: list[tuple[str, float, int, str]] = []
    for ln in body[1:1 + n_sig]:
        f = ln.split()
        if len(f) < 3 or f[1] != FORMAT_16:
            raise RecordingFormatError(f"{p}: only format 16 is supported, got {ln!r}")
        gain_field = f[2].split("/")
        unit = gain_field[1] if len(gain_field) > 1 else ""
        g = gain_field[0]
        base = 0
        if "(" in g:
            g, b = g.split("(")
            base = int(b.rstrip(")"))
        gain = float(g) or DEFAULT_GAIN
        sigs.append((f[8] if len(f) >= 9 else f"sig{len(sigs)}", gain, base, unit))
    if len(sigs) != n_sig:
        raise RecordingFormatError(f"{p}: header announces {n_sig} signals, found {len(sigs)}")
    comments = {}
    for ln in lines:
        if ln.startswith("#") and len(ln.split()) >= 2:
            *k, v = ln[1:].split()
            comments[" ".join(k)] = v
    return n_sig, fs, n_samp, sigs, comments


def read_wfdb(path: str | Path) -> Trace:
    """Read `<record>.hea` (+ its `.dat`); channel FHR -> fhr1, UC -> toco; 0 = no signal."""
    hea = Path(path).with_suffix(".hea")
    n_sig, fs, n_samp, sigs, comments = _parse_header(hea)
    if fs != SAMPLE_HZ:
        raise RecordingFormatError(f"{hea}: sampling frequency {fs} Hz, expected {SAMPLE_HZ}")
    dat = hea.parent / (hea.read_text(errors="replace").splitlines()[1].split()[0])
    raw = np.fromfile(dat, "<i2")
    if raw.size % n_sig:
        raise RecordingFormatError(f"{dat}: {raw.size} values are not a multiple of {n_sig} signals")
    data = raw.reshape(-1, n_sig)
    if n_samp >= 0:
        data = data[:n_samp]
    chans = {}
    for k, (name, gain, base, _unit) in enumerate(sigs):
        col = data[:, k].astype(np.float64)
        v = (col - base) / gain
        v[col == 0] = np.nan if name.upper() == "FHR" else 0.0
        chans[name.upper()] = v
    fhr = chans.get("FHR")
    if fhr is None:
        raise RecordingFormatError(f"{hea}: no FHR signal (signals: {[s[0] for s in sigs]})")
    return Trace.from_arrays(fhr, toco=chans.get("UC"), source=str(hea),
                             provenance={"format": "wfdb-16", **comments}, toco_unit="nd")


def write_wfdb(trace: Trace, path: str | Path, comments: dict[str, str] | None = None) -> None:
    """Write FHR and UC as a CTU-UHB-style WFDB record (gain 100, format 16)."""
    hea = Path(path).with_suffix(".hea")
    name = hea.stem
    fhr = np.round(np.nan_to_num(trace.fhr1_bpm, nan=0.0) * 100).astype("<i2")
    uc = np.round(np.nan_to_num(trace.toco, nan=0.0) * 100).astype("<i2")
    np.stack([fhr, uc], axis=1).tofile(hea.with_suffix(".dat"))
    lines = [f"{name} 2 {SAMPLE_HZ} {len(trace)}",
             f"{name}.dat 16 100/bpm 12 0 0 0 0 FHR",
             f"{name}.dat 16 100/nd 12 0 0 0 0 UC"]
    lines += [f"#{k} {v}" for k, v in (comments or {}).items()]
    hea.write_text("\n".join(lines) + "\n", encoding="ascii")
