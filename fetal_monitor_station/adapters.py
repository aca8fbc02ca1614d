"""Adapters between the runtime and the analysis/alarm packages (their types stay theirs).

`make_hooks(thresholds)` returns the analyzer factory (one `StreamingAnalyzer` per episode,
configured with the patient's gestational age), the classification extractor (an
`AnalysisEvent` of kind classification -> the fields of a `classification/1` body) and the
alarm policy over the alarm manager.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from fetal_monitor_station.analysis.config import AnalysisConfig
from fetal_monitor_station.analysis.events import KIND_CLASSIFICATION
from fetal_monitor_station.analysis.streaming import StreamingAnalyzer
from fetal_monitor_station.episodes import Episode
from fetal_monitor_station.errors import ConfigError
from fetal_monitor_station.station import AlarmPolicy, Analyzer, AnalyzerFactory


def classification_of(event: Any) -> dict[str, Any] | None:
    if getattr(event, "kind", None) != KIND_CLASSIFICATION or event.classification is None:
        return None
    c = event.classification
    return {"figo": c.figo, "nichd": c.nichd, "nst": c.nst, "reasons": list(c.reasons)[:32],
            "window_start_s": c.window_start_s, "window_end_s": c.window_end_s,
            "baseline_bpm": c.baseline_bpm, "variability_bpm": c.variability_bpm}


def analyzer_factory(analysis: AnalysisConfig) -> AnalyzerFactory:
    def make(bed_id: str, ep: Episode) -> Analyzer:
        return StreamingAnalyzer(dataclasses.replace(analysis, gestation_weeks=ep.ga_weeks))
    return make


def make_hooks(thresholds: Mapping[str, float]) -> tuple[AnalyzerFactory, Any, AlarmPolicy | None]:
    from fetal_monitor_station.alarm_policy import make_alarm_policy

    try:
        policy = make_alarm_policy(thresholds)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"thresholds: {exc}") from None
    return analyzer_factory(AnalysisConfig()), classification_of, policy
