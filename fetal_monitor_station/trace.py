"""CTG samples and traces: the common currency between sources, runtime and analysis.

A `CtgSample` is one 4 Hz instant as a monitor reports it (None = no signal / penlift).
A `Trace` is a recording: numpy arrays at `SAMPLE_HZ` with NaN for missing values, plus
the metadata a signal needs to be interpreted (channel names, units, start time, provenance).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

#: Sample rate of every trace in the station (Philips/GE monitors report FHR at 4 Hz).
SAMPLE_HZ = 4
SAMPLE_PERIOD_S = 1.0 / SAMPLE_HZ

#: Channel names, in the order `Trace.channels()` returns them.
CHANNEL_FHR1 = "fhr1_bpm"
CHANNEL_FHR2 = "fhr2_bpm"
CHANNEL_MHR = "mhr_bpm"
CHANNEL_TOCO = "toco"
CHANNELS = (CHANNEL_FHR1, CHANNEL_FHR2, CHANNEL_MHR, CHANNEL_TOCO)
CHANNEL_UNITS = {CHANNEL_FHR1: "bpm", CHANNEL_FHR2: "bpm", CHANNEL_MHR: "bpm", CHANNEL_TOCO: "mmHg|%"}

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _opt_float(value: float | None) -> float | None:
    """A finite float, or None for missing / NaN / infinite input."""
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


@dataclass(frozen=True, slots=True)
class CtgSample:
    """One CTG instant. `t_s` is seconds since the start of the recording."""

    t_s: float
    fhr1_bpm: float | None = None
    fhr2_bpm: float | None = None
    mhr_bpm: float | None = None
    toco: float | None = None
    movement: bool = False
    mark: bool = False


def _nan_to_none(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def _as_float_array(values: npt.ArrayLike, n: int | None = None) -> FloatArray:
    """A float64 copy with NaN for None / non-finite entries (numpy maps None to NaN)."""
    arr = np.array(values, dtype=np.float64).reshape(-1)
    arr[~np.isfinite(arr)] = np.nan
    if n is not None and arr.size != n:
        raise ValueError(f"channel length {arr.size} differs from fhr1 length {n}")
    return arr


@dataclass(frozen=True)
class Trace:
    """A CTG recording at `sample_hz` (always `SAMPLE_HZ` in the station).

    Arrays hold NaN where the monitor reported no signal. Zero is *not* a valid FHR:
    readers convert the 0 penlift convention of FHRMA/CTU-UHB files to NaN.
    """

    fhr1_bpm: FloatArray
    fhr2_bpm: FloatArray
    mhr_bpm: FloatArray
    toco: FloatArray
    movement: BoolArray
    mark: BoolArray
    start_time_s: float = 0.0  # UNIX time of the first sample, 0.0 when unknown
    source: str = ""  # file path, simulator seed, bed id...
    provenance: dict[str, str] = field(default_factory=dict)
    sample_hz: int = SAMPLE_HZ
    toco_unit: str = "mmHg"

    def __post_init__(self) -> None:
        n = self.fhr1_bpm.size
        for name in ("fhr2_bpm", "mhr_bpm", "toco", "movement", "mark"):
            if getattr(self, name).size != n:
                raise ValueError(f"Trace channel {name} has {getattr(self, name).size} samples, expected {n}")
        if self.sample_hz <= 0:
            raise ValueError(f"sample_hz must be positive, got {self.sample_hz}")

    @classmethod
    def from_arrays(
        cls,
        fhr1_bpm: npt.ArrayLike,
        fhr2_bpm: npt.ArrayLike | None = None,
        mhr_bpm: npt.ArrayLike | None = None,
        toco: npt.ArrayLike | None = None,
        movement: npt.ArrayLike | None = None,
        mark: npt.ArrayLike | None = None,
        *,
        start_time_s: float = 0.0,
        source: str = "",
        provenance: dict[str, str] | None = None,
        sample_hz: int = SAMPLE_HZ,
        toco_unit: str = "mmHg",
    ) -> Trace:
        """Build a trace from array-likes; missing channels become all-NaN / all-False."""
        f1 = _as_float_array(fhr1_bpm)
        n = f1.size

        def chan(v: npt.ArrayLike | None) -> FloatArray:
            if v is None:
                return np.full(n, np.nan)
            return _as_float_array(v, n)

        def flag(v: npt.ArrayLike | None) -> BoolArray:
            if v is None:
                return np.zeros(n, dtype=bool)
            out = np.asarray(v).astype(bool).reshape(-1)
            if out.size != n:
                raise ValueError(f"flag length {out.size} differs from fhr1 length {n}")
            return out

        return cls(f1, chan(fhr2_bpm), chan(mhr_bpm), chan(toco), flag(movement), flag(mark),
                   start_time_s=float(start_time_s), source=source, provenance=dict(provenance or {}),
                   sample_hz=int(sample_hz), toco_unit=toco_unit)

    @classmethod
    def from_samples(cls, samples: Iterable[CtgSample], **meta: object) -> Trace:
        """Collect `CtgSample`s (assumed consecutive at `SAMPLE_HZ`) into a trace."""
        rows = list(samples)

        def col(name: str) -> FloatArray:
            return np.array([getattr(r, name) for r in rows], dtype=np.float64).reshape(-1)

        return cls.from_arrays(
            col("fhr1_bpm"), col("fhr2_bpm"), col("mhr_bpm"), col("toco"),
            np.array([r.movement for r in rows], dtype=bool), np.array([r.mark for r in rows], dtype=bool),
            **meta,  # type: ignore[arg-type]
        )

    def __len__(self) -> int:
        return int(self.fhr1_bpm.size)

    @property
    def duration_s(self) -> float:
        return len(self) / self.sample_hz

    def times_s(self) -> FloatArray:
        return np.arange(len(self), dtype=np.float64) / self.sample_hz

    def channels(self) -> dict[str, FloatArray]:
        return {CHANNEL_FHR1: self.fhr1_bpm, CHANNEL_FHR2: self.fhr2_bpm,
                CHANNEL_MHR: self.mhr_bpm, CHANNEL_TOCO: self.toco}

    def units(self) -> dict[str, str]:
        return {CHANNEL_FHR1: "bpm", CHANNEL_FHR2: "bpm", CHANNEL_MHR: "bpm", CHANNEL_TOCO: self.toco_unit}

    def samples(self) -> Iterator[CtgSample]:
        """Iterate the trace as `CtgSample`s (NaN becomes None)."""
        f1 = self.fhr1_bpm.tolist()
        f2 = self.fhr2_bpm.tolist()
        mh = self.mhr_bpm.tolist()
        tc = self.toco.tolist()
        mv = self.movement.tolist()
        mk = self.mark.tolist()
        period = 1.0 / self.sample_hz
        for i in range(len(f1)):
            yield CtgSample(i * period, _nan_to_none(f1[i]), _nan_to_none(f2[i]), _nan_to_none(mh[i]),
                            _nan_to_none(tc[i]), bool(mv[i]), bool(mk[i]))

    def slice_s(self, start_s: float, end_s: float) -> Trace:
        """The part of the trace between two times (seconds from its start)."""
        a = max(0, int(round(start_s * self.sample_hz)))
        b = max(a, int(round(end_s * self.sample_hz)))
        return Trace(self.fhr1_bpm[a:b].copy(), self.fhr2_bpm[a:b].copy(), self.mhr_bpm[a:b].copy(),
                     self.toco[a:b].copy(), self.movement[a:b].copy(), self.mark[a:b].copy(),
                     start_time_s=self.start_time_s + (a / self.sample_hz if self.start_time_s else 0.0),
                     source=self.source, provenance=dict(self.provenance), sample_hz=self.sample_hz,
                     toco_unit=self.toco_unit)
