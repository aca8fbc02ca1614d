"""CTG paper geometry, shared by the bed-detail screen and the printed A4 report.

Everything is in millimetres of paper: x grows with time (paper speed in cm/min), y grows
upwards from the bottom of each channel's strip. The FHR strip is 50-210 bpm at 20 bpm/cm
(FIGO / Chinese paper) or 30-240 bpm at 30 bpm/cm (US paper); TOCO is 0-100 at 25 units/cm.
Traces are cut into separate polylines wherever the signal is missing: a gap stays a gap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PAPER_SPEEDS_CM_MIN = (1, 2, 3)
DEFAULT_SPEED_CM_MIN = 3  # Chinese practice


@dataclass(frozen=True)
class FhrScale:
    low_bpm: int
    high_bpm: int
    bpm_per_cm: int
    minor_bpm: int  # fine grid step
    major_bpm: int  # heavy grid step (labelled)

    @property
    def height_mm(self) -> float:
        return (self.high_bpm - self.low_bpm) / self.bpm_per_cm * 10.0


FHR_50_210 = FhrScale(50, 210, 20, 10, 30)
FHR_30_240 = FhrScale(30, 240, 30, 10, 30)
FHR_SCALES = {"50-210": FHR_50_210, "30-240": FHR_30_240}
DEFAULT_FHR_SCALE = "50-210"
NORMAL_BAND_BPM = (110, 160)  # shaded on the paper


@dataclass(frozen=True)
class TocoScale:
    low: int = 0
    high: int = 100
    units_per_cm: int = 25
    minor: int = 10
    major: int = 20

    @property
    def height_mm(self) -> float:
        return (self.high - self.low) / self.units_per_cm * 10.0


TOCO_0_100 = TocoScale()


@dataclass(frozen=True)
class Paper:
    """One paper configuration: speed and scales."""

    speed_cm_min: int = DEFAULT_SPEED_CM_MIN
    fhr: FhrScale = FHR_50_210
    toco: TocoScale = TOCO_0_100

    def __post_init__(self) -> None:
        if self.speed_cm_min not in PAPER_SPEEDS_CM_MIN:
            raise ValueError(f"paper speed {self.speed_cm_min} cm/min: want one of {PAPER_SPEEDS_CM_MIN}")

    @property
    def mm_per_s(self) -> float:
        return self.speed_cm_min * 10.0 / 60.0

    @property
    def minor_time_s(self) -> float:
        """Fine vertical grid: 10 s at 3 cm/min (5 mm), 30 s at 1-2 cm/min."""
        return 10.0 if self.speed_cm_min == 3 else 30.0

    @property
    def major_time_s(self) -> float:
        return 60.0

    def seconds_for(self, width_mm: float) -> float:
        return width_mm / self.mm_per_s

    def x_mm(self, t_s: float, start_s: float) -> float:
        return (t_s - start_s) * self.mm_per_s

    def fhr_y_mm(self, bpm: float) -> float:
        """Height above the bottom of the FHR strip; values off the scale are clipped to its edge."""
        b = min(max(bpm, self.fhr.low_bpm), self.fhr.high_bpm)
        return (b - self.fhr.low_bpm) / self.fhr.bpm_per_cm * 10.0

    def toco_y_mm(self, value: float) -> float:
        v = min(max(value, self.toco.low), self.toco.high)
        return (v - self.toco.low) / self.toco.units_per_cm * 10.0

    def time_lines(self, start_s: float, end_s: float) -> list[tuple[float, bool]]:
        """(x mm, is_major) of every vertical grid line in [start_s, end_s], aligned to wall-clock."""
        step = self.minor_time_s
        first = -(-start_s // step) * step
        out = []
        t = first
        while t <= end_s + 1e-9:
            major = abs(t / self.major_time_s - round(t / self.major_time_s)) < 1e-9
            out.append((self.x_mm(t, start_s), major))
            t += step
        return out

    def fhr_lines(self) -> list[tuple[float, bool, int]]:
        """(y mm, is_major, bpm) of every horizontal FHR grid line."""
        f = self.fhr
        return [(self.fhr_y_mm(b), (b - f.low_bpm) % f.major_bpm == 0 or b in NORMAL_BAND_BPM, b)
                for b in range(f.low_bpm, f.high_bpm + 1, f.minor_bpm)]

    def toco_lines(self) -> list[tuple[float, bool, int]]:
        t = self.toco
        return [(self.toco_y_mm(v), v % t.major == 0, v) for v in range(t.low, t.high + 1, t.minor)]


def paper(speed_cm_min: int = DEFAULT_SPEED_CM_MIN, fhr_scale: str = DEFAULT_FHR_SCALE) -> Paper:
    if fhr_scale not in FHR_SCALES:
        raise ValueError(f"FHR scale {fhr_scale!r}: want one of {sorted(FHR_SCALES)}")
    return Paper(speed_cm_min, FHR_SCALES[fhr_scale])


Point = tuple[float, float]


def polylines(times_s: Sequence[float], values: Sequence[float | None], *, max_step_s: float = 0.5
              ) -> list[list[tuple[float, float]]]:
    """Split (t, value) into runs of present values; a missing value or a time jump ends a run.

    `max_step_s` is the largest spacing still drawn as continuous (two 4 Hz samples).
    Single isolated samples make one-point runs (drawn as a dot), so nothing is invented.
    """
    out: list[list[tuple[float, float]]] = []
    run: list[tuple[float, float]] = []
    prev_t: float | None = None
    for t, v in zip(times_s, values, strict=True):
        if v is None or (prev_t is not None and t - prev_t > max_step_s):
            if run:
                out.append(run)
            run = []
        if v is not None:
            run.append((t, v))
        prev_t = t
    if run:
        out.append(run)
    return out


def decimate(run: Iterable[tuple[float, float]], step: int) -> list[tuple[float, float]]:
    """Every `step`-th point of a run, keeping its last point (for small tiles)."""
    pts = list(run)
    if step <= 1 or len(pts) <= 2:
        return pts
    out = pts[::step]
    if out[-1] is not pts[-1]:
        out.append(pts[-1])
    return out
