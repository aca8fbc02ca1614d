"""Offline analysis: the same streaming analysis run over a whole recording, as one JSON document."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ..alarms.manager import AlarmManager
from ..alarms.model import AlarmChange, AlarmThresholds
from ..alarms.replay import SampleClock, replay
from ..trace import Trace
from .config import CHANNEL_AUTO, AnalysisConfig
from .events import KIND_ACCELERATION, KIND_CLASSIFICATION, KIND_CONTRACTION, KIND_DECELERATION, AnalysisEvent
from .streaming import StreamingAnalyzer

OFFLINE_BED = "offline"


def analyse_trace(trace: Trace, config: AnalysisConfig | None = None,
                  thresholds: AlarmThresholds | None = None, with_alarms: bool = True) -> dict[str, Any]:
    """Analyse a recording sample by sample; returns a JSON-able document."""
    cfg = config or AnalysisConfig(fhr_channel=CHANNEL_AUTO)
    analyzer = StreamingAnalyzer(cfg)
    analyzer.baseline_sink = []
    events: list[AnalysisEvent] = []
    changes: list[AlarmChange] = []
    if with_alarms:
        clock = SampleClock()
        alarms = AlarmManager(thresholds or AlarmThresholds(lead=cfg.lead), clock)
        events, changes = replay(trace, analyzer, alarms, clock, OFFLINE_BED)
    else:
        events += analyzer.push_block(trace.fhr1_bpm, trace.fhr2_bpm, trace.mhr_bpm, trace.toco)
    events += analyzer.finish()
    base = np.full(len(trace), np.nan)
    for a, piece in analyzer.baseline_sink:
        base[a:a + piece.size] = piece[: max(0, len(trace) - a)]
    return {
        "source": trace.source,
        "duration_s": trace.duration_s,
        "sample_hz": trace.sample_hz,
        "config": asdict(cfg),
        "baseline_bpm": _nan_as_none(np.round(base, 2)),
        "accelerations": [_ep(e) for e in events if e.kind == KIND_ACCELERATION],
        "decelerations": [_ep(e) for e in events if e.kind == KIND_DECELERATION],
        "contractions": [_ep(e) for e in events if e.kind == KIND_CONTRACTION],
        "classification": [_cl(e) for e in events if e.kind == KIND_CLASSIFICATION],
        "alarms": [{"change": c.change, "kind": c.alarm.kind, "priority": c.alarm.priority.name.lower(),
                    "at_s": c.at, "condition_since_s": c.alarm.condition_since_s, "message": c.alarm.message}
                   for c in changes],
    }


def analyse_file(path: str | Path, config: AnalysisConfig | None = None) -> dict[str, Any]:
    """Read a recording (.fhr, .hea, .ctgz.npz) and analyse it."""
    from ..sources.readers import read_any

    return analyse_trace(read_any(path), config)


def _nan_as_none(values: np.ndarray) -> list[float | None]:
    """The values as a list with None for NaN (only the NaNs visited in Python, not every sample)."""
    out: list[float | None] = values.tolist()
    for i in np.isnan(values).nonzero()[0].tolist():
        out[i] = None
    return out


def _ep(e: AnalysisEvent) -> dict[str, Any]:
    assert e.episode is not None
    out: dict[str, Any] = {"start_s": round(e.start_s, 2), "end_s": round(e.end_s, 2),
                           "peak_s": round(e.episode.peak_s, 2), "amplitude": round(e.episode.amplitude, 2),
                           "n_valid": e.n_valid, "reported_at_s": e.t_s}
    if e.episode.type is not None:
        out["type"] = e.episode.type
    for key in ("onset_s", "contraction_peak_s"):
        v = getattr(e.episode, key)
        if v is not None:
            out[key] = round(v, 2)
    return out


def _cl(e: AnalysisEvent) -> dict[str, Any]:
    c = e.classification
    assert c is not None
    return {"at_s": e.t_s, "window_start_s": c.window_start_s, "window_end_s": c.window_end_s, "figo": c.figo,
            "nichd": c.nichd, "nst": c.nst, "baseline_bpm": c.baseline_bpm, "variability_bpm": c.variability_bpm,
            "reasons": list(c.reasons)}
