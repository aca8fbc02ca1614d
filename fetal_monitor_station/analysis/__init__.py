"""Streaming CTG analysis: baseline, variability, events, contractions, classification, quality."""

from .config import AnalysisConfig
from .events import AnalysisEvent, Classification, Episode, SignalQuality, Snapshot
from .streaming import StreamingAnalyzer

__all__ = ["AnalysisConfig", "AnalysisEvent", "Classification", "Episode", "SignalQuality", "Snapshot",
           "StreamingAnalyzer"]
