"""Seeded synthetic CTG with its ground truth (baseline per sample, events, expected classes).

`generate(spec)` is deterministic for a given `SyntheticSpec` (including its seed). The
shapes follow the clinical archetypes: early decelerations mirror their contraction, late
ones start after its acme with their nadir > 30 s after onset, variable ones fall abruptly
(nadir < 30 s after onset), prolonged ones last > 3 min.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..analysis.events import (
    DEC_EARLY,
    DEC_LATE,
    DEC_PROLONGED,
    DEC_VARIABLE,
    KIND_ACCELERATION,
    KIND_CONTRACTION,
    KIND_DECELERATION,
    Episode,
)
from ..trace import SAMPLE_HZ, FloatArray, Trace
from .synthetic_shapes import bell, dip, minute_band, variability_noise

TOCO_BASE = 12.0
MHR_DEFAULT_BPM = 85.0
MONITOR_MAX_BPM = 240.0  # monitors clip a doubled rate here


@dataclass(frozen=True)
class Span:
    start_s: float
    end_s: float
    level_bpm: float = 0.0  # tachycardia/bradycardia level, or unused


@dataclass(frozen=True)
class SyntheticSpec:
    """What to synthesise. Times in seconds from the start; rates per hour."""

    duration_s: float = 3600.0
    seed: int = 0
    baseline_bpm: float = 140.0
    wander_bpm: float = 3.0  # amplitude of the slow baseline wander
    variability_bpm: float = 12.0  # median per-minute peak-to-trough band
    accelerations_per_hour: float = 6.0
    contraction_interval_s: float | None = 180.0  # None: no contractions (antepartum)
    decel_types: tuple[str, ...] = ()  # cycled over contractions, e.g. ("late",) or ("early", "variable")
    decel_every: int = 1  # a deceleration with every n-th contraction
    prolonged: tuple[Span, ...] = ()
    tachycardia: tuple[Span, ...] = ()
    bradycardia: tuple[Span, ...] = ()
    sinusoidal: tuple[Span, ...] = ()
    signal_loss_fraction: float = 0.0  # up to 0.3
    with_mhr: bool = False
    mhr_capture: tuple[Span, ...] = ()  # FHR channel records the maternal rate
    halving: tuple[Span, ...] = ()
    doubling: tuple[Span, ...] = ()
    gestation_weeks: int = 39


@dataclass(frozen=True)
class GroundTruth:
    baseline_bpm: FloatArray  # per sample, 4 Hz
    variability_bpm: FloatArray  # per minute: band of the variability component
    accelerations: tuple[Episode, ...]
    decelerations: tuple[Episode, ...]
    contractions: tuple[Episode, ...]
    sinusoidal: tuple[Span, ...]
    lost: np.ndarray  # bool per sample: no fetal signal
    artefact: np.ndarray  # bool per sample: MHR capture / halving / doubling
    spec: SyntheticSpec = field(repr=False, default_factory=SyntheticSpec)
    # events dropped for > 1/3 signal loss (FHRMA rule); a detection of one is neutral
    excluded: tuple[Episode, ...] = ()


def _overlaps(a_s: float, b_s: float, spans: tuple[Span, ...], margin_s: float) -> bool:
    return any(a_s < s.end_s + margin_s and b_s > s.start_s - margin_s for s in spans)


def _contractions(spec: SyntheticSpec, rng: np.random.Generator) -> list[tuple[float, float, float, float]]:
    """(start, acme, end, amplitude) of each contraction."""
    out: list[tuple[float, float, float, float]] = []
    if spec.contraction_interval_s is None:
        return out
    t = float(rng.uniform(30.0, spec.contraction_interval_s))
    while t + 120.0 < spec.duration_s:
        dur = float(rng.uniform(70.0, 100.0))
        out.append((t, t + dur / 2, t + dur, float(rng.uniform(30.0, 60.0))))
        t += spec.contraction_interval_s * float(rng.uniform(0.85, 1.15))
    return out


def _decel_for(kind: str, c: tuple[float, float, float, float],
               rng: np.random.Generator) -> tuple[float, float, float, float]:
    """(start, nadir, end, depth) of a deceleration of `kind` tied to contraction `c`, spread over
    what FIGO/NICHD allow for the type: early = gradual, nadir with the acme, mirroring the
    contraction; late = gradual (> 30 s to the nadir), onset > 20 s after the contraction's onset,
    nadir after its acme, > 30 s back; variable = abrupt (nadir < 30 s after onset) at any timing;
    prolonged = >= 3 min, starting anywhere in the contraction."""
    c_start, acme, c_end, _ = c
    if kind == DEC_EARLY:
        start = c_start + rng.uniform(-5, 8)
        return (start, max(acme + rng.uniform(-6, 6), start + 32.0), c_end + rng.uniform(-8, 8), rng.uniform(16, 30))
    if kind == DEC_LATE:
        start = max(c_start + 22.0, acme + rng.uniform(-12, 12))
        nadir = start + rng.uniform(34, 55)
        return (start, nadir, nadir + rng.uniform(34, 55), rng.uniform(16, 35))
    if kind == DEC_PROLONGED:
        start = c_start + rng.uniform(0, 50)
        return (start, start + rng.uniform(25, 60), start + rng.uniform(200, 300), rng.uniform(30, 50))
    start = c_start + rng.uniform(-15, 35)
    nadir = start + rng.uniform(6, 22)
    return (start, nadir, nadir + rng.uniform(15, 50), rng.uniform(28, 60))


def generate(spec: SyntheticSpec) -> tuple[Trace, GroundTruth]:
    """A synthetic trace and its ground truth."""
    rng = np.random.default_rng(spec.seed)
    n = int(round(spec.duration_s * SAMPLE_HZ))
    t = np.arange(n) / SAMPLE_HZ
    # baseline: level + slow wander + tachycardia/bradycardia episodes
    base = np.full(n, spec.baseline_bpm)
    for period_s in (1500.0, 3700.0):
        base += spec.wander_bpm / 2 * np.sin(2 * np.pi * t / period_s + rng.uniform(0, 2 * np.pi))
    for sp in spec.tachycardia + spec.bradycardia:
        base += (sp.level_bpm - spec.baseline_bpm) * bell(t, sp.start_s, sp.end_s, ramp_s=90.0)
    # variability (band-limited noise, or a sinusoid in sinusoidal spans)
    var = variability_noise(n, spec.variability_bpm, rng)
    for sp in spec.sinusoidal:
        m = (t >= sp.start_s) & (t < sp.end_s)
        f_hz = rng.uniform(3.3, 4.7) / 60.0
        var[m] = sp.level_bpm / 2 * np.sin(2 * np.pi * f_hz * t[m])
    fhr = base + var
    toco = TOCO_BASE + rng.normal(0.0, 1.0, n)
    # contractions and the decelerations tied to them
    contractions: list[Episode] = []
    decels: list[Episode] = []
    accels: list[Episode] = []
    for k, c in enumerate(_contractions(spec, rng)):
        c_start, acme, c_end, amp = c
        toco += amp * bell(t, c_start, c_end, ramp_s=(c_end - c_start) / 2)
        contractions.append(Episode(KIND_CONTRACTION, c_start, c_end, acme, amp))
        if not spec.decel_types or k % max(1, spec.decel_every):
            continue
        kind = spec.decel_types[(k // max(1, spec.decel_every)) % len(spec.decel_types)]
        if kind not in (DEC_EARLY, DEC_LATE, DEC_VARIABLE, DEC_PROLONGED):
            continue
        d_start, nadir, d_end, depth = _decel_for(kind, c, rng)
        if d_end >= spec.duration_s or _overlaps(d_start, d_end, spec.prolonged + spec.sinusoidal, 60.0) \
                or (decels and d_start < decels[-1].end_s + 30.0):
            continue
        hold = d_end - 40.0 if kind == DEC_PROLONGED else None
        fhr -= dip(t, d_start, nadir, d_end, depth, hold_until_s=hold)
        decels.append(Episode(KIND_DECELERATION, d_start, d_end, nadir, -depth, type=kind,
                              contraction_peak_s=acme))
    for sp in spec.prolonged:
        depth = sp.level_bpm or 40.0
        nadir = sp.start_s + 25.0
        fhr -= dip(t, sp.start_s, nadir, sp.end_s, depth, hold_until_s=sp.end_s - 30.0)
        decels.append(Episode(KIND_DECELERATION, sp.start_s, sp.end_s, nadir, -depth, type=DEC_PROLONGED))
    # accelerations, away from decelerations, contractions' decelerations and sinusoidal spans
    busy = [(d.start_s, d.end_s) for d in decels] + [(s.start_s, s.end_s) for s in spec.sinusoidal]
    n_acc = rng.poisson(spec.accelerations_per_hour * spec.duration_s / 3600.0)
    for _ in range(int(n_acc) * 20):
        if len(accels) >= n_acc:
            break
        dur = float(rng.uniform(30.0, 100.0))
        a0 = float(rng.uniform(60.0, spec.duration_s - dur - 60.0))
        if any(a0 - 45.0 < e and a0 + dur + 45.0 > s for s, e in busy):
            continue
        amp = float(rng.uniform(20.0, 30.0))
        fhr += amp * bell(t, a0, a0 + dur, ramp_s=dur / 2)
        busy.append((a0, a0 + dur))
        accels.append(Episode(KIND_ACCELERATION, a0, a0 + dur, a0 + dur / 2, amp))
    accels.sort(key=lambda e: e.start_s)
    decels.sort(key=lambda e: e.start_s)
    fhr += rng.normal(0.0, 0.4, n)  # beat-to-beat jitter
    movement = np.zeros(n, dtype=bool)
    for a in accels:
        movement[int(a.start_s * SAMPLE_HZ): int(a.peak_s * SAMPLE_HZ)] = True
    return _finish(spec, rng, t, fhr, base, var, toco, movement, accels, decels, contractions)


def _finish(spec: SyntheticSpec, rng: np.random.Generator, t: FloatArray, fhr: FloatArray,
            base: FloatArray, var: FloatArray, toco: FloatArray, movement: np.ndarray,
            accels: list[Episode], decels: list[Episode], contractions: list[Episode]) -> tuple[Trace, GroundTruth]:
    n = t.size
    mhr = MHR_DEFAULT_BPM + 3 * np.sin(2 * np.pi * t / 400.0) + rng.normal(0.0, 1.0, n)
    artefact = np.zeros(n, dtype=bool)
    for sp in spec.mhr_capture:
        m = (t >= sp.start_s) & (t < sp.end_s)
        fhr[m] = mhr[m] + rng.normal(0.0, 0.5, int(m.sum()))
        artefact |= m
    for spans, factor in ((spec.halving, 0.5), (spec.doubling, 2.0)):
        for sp in spans:
            m = (t >= sp.start_s) & (t < sp.end_s)
            fhr[m] = np.minimum(fhr[m] * factor, MONITOR_MAX_BPM)
            artefact |= m
    lost = np.zeros(n, dtype=bool)
    target = min(max(spec.signal_loss_fraction, 0.0), 0.3)
    while lost.mean() < target:
        dur = int(rng.uniform(2.0, 60.0) * SAMPLE_HZ)
        at = int(rng.integers(0, max(1, n - dur)))
        lost[at: at + dur] = True
    fhr = np.round(fhr * 4) / 4  # monitors report quarter-bpm
    fhr[lost] = np.nan
    trace = Trace.from_arrays(
        fhr, None, mhr if spec.with_mhr else None, np.clip(toco, 0.0, 100.0), movement,
        source=f"synthetic:seed={spec.seed}", provenance={"generator": "fetal_monitor_station.sources.synthetic",
                                                          "seed": str(spec.seed)})
    keep = [d for d in decels if _lost_share(lost, d) <= 1 / 3]
    keep_acc = [a for a in accels if _lost_share(lost, a) <= 1 / 3]
    excluded = tuple(e for e in accels + decels if e not in keep and e not in keep_acc)
    truth = GroundTruth(base.copy(), minute_band(var), tuple(keep_acc), tuple(keep), tuple(contractions),
                        spec.sinusoidal, lost, artefact, spec, excluded)
    return trace, truth


def _lost_share(lost: np.ndarray, e: Episode) -> float:
    seg = lost[int(e.start_s * SAMPLE_HZ): int(e.end_s * SAMPLE_HZ)]
    return float(seg.mean()) if seg.size else 0.0
