"""Configuration of the streaming analysis (validated at construction)."""

from __future__ import annotations

from dataclasses import dataclass

from . import rules as R
from .baseline import SELECTIVE_BANDS_BPM

LEAD_FIGO = "figo"
LEAD_NICHD = "nichd"  # CN2015 uses NICHD for intrapartum
CHANNEL_FHR1 = "fhr1"
CHANNEL_FHR2 = "fhr2"
CHANNEL_AUTO = "auto"  # FHR1, or FHR2 where FHR1 has no signal (FHRMA: max of the two)


@dataclass(frozen=True)
class AnalysisConfig:
    lead: str = LEAD_FIGO  # which classification leads the alarms and the UI
    antepartum: bool = False  # adds the NST reactivity reading
    gestation_weeks: int | None = None  # < 32: preterm acceleration rule (10 bpm / 10 s)
    fhr_channel: str = CHANNEL_FHR1
    knot_s: float = 60.0  # the baseline is re-estimated every knot
    # the settled baseline at t averages [t - lookahead, t + lookahead], so the baseline of the
    # trailing 10 min (the live baseline, for alarms) comes from the same histograms
    lookahead_s: float = R.BASELINE_WINDOW_S / 2  # the settled baseline looks this far ahead...
    lookback_s: float = 1200.0  # ...and this far back to choose the level (long decelerations stay a minority)
    history_s: float = 2400.0  # ring buffer length
    # the baseline's selective averaging: bands narrowing around the level (bpm, widest first)
    selective_bands_bpm: tuple[float, ...] = SELECTIVE_BANDS_BPM
    # deviation that opens/closes an acceleration or deceleration run: 0 = where the FHR crosses
    # the baseline (FIGO/NICHD time an excursion from and back to the baseline)
    edge_bpm: float = 0.0
    toco_edge: float = 4.0  # toco rise that opens/closes a contraction run
    toco_baseline_percentile: float = 10.0
    decel_typing_delay_s: float = 90.0  # wait for the contraction to end before typing
    coincidence_bpm: float = 5.0  # |FHR - MHR| below this = possibly maternal
    halving_tolerance_bpm: float = 8.0

    def __post_init__(self) -> None:
        if self.lead not in (LEAD_FIGO, LEAD_NICHD):
            raise ValueError(f"lead must be {LEAD_FIGO!r} or {LEAD_NICHD!r}, got {self.lead!r}")
        if self.fhr_channel not in (CHANNEL_FHR1, CHANNEL_FHR2, CHANNEL_AUTO):
            raise ValueError(f"fhr_channel must be fhr1, fhr2 or auto, got {self.fhr_channel!r}")
        if not 0 < self.knot_s <= 60 or self.lookahead_s < self.knot_s:
            raise ValueError("knot_s must be in (0, 60] and lookahead_s >= knot_s")
        bands = self.selective_bands_bpm
        if not bands or any(b <= 0 for b in bands) or any(x < y for x, y in zip(bands[:-1], bands[1:], strict=True)):
            raise ValueError(f"selective_bands_bpm must be positive and narrowing, got {bands!r}")
        if self.edge_bpm < 0:
            raise ValueError(f"edge_bpm must be >= 0, got {self.edge_bpm!r}")
        if self.history_s < self.lookback_s + self.lookahead_s + 15 * 60:
            raise ValueError("history_s must cover the baseline windows plus 15 min of deferral")

    @property
    def preterm(self) -> bool:
        return self.gestation_weeks is not None and self.gestation_weeks < R.PRETERM_WEEKS

    @property
    def prolonged_decel_s(self) -> float:
        return R.NICHD_PROLONGED_DECEL_S if self.lead == LEAD_NICHD else R.FIGO_PROLONGED_DECEL_S
