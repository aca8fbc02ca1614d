"""FIGO 2015 / NICHD 2008 (= CN2015 intrapartum) classification and CN2015 NST reactivity.

`ClassificationTracker` takes settled minutes and episodes in time order and is asked to
classify once per minute; it keeps bounded history (90 min) and the durations the rules
need (how long variability has been reduced, decelerations repetitive, ...).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from . import rules as R
from .events import (
    DEC_LATE,
    DEC_PROLONGED,
    DEC_VARIABLE,
    FIGO_NORMAL,
    FIGO_PATHOLOGICAL,
    FIGO_SUSPICIOUS,
    INDETERMINATE,
    KIND_ACCELERATION,
    KIND_CONTRACTION,
    KIND_DECELERATION,
    NICHD_I,
    NICHD_II,
    NICHD_III,
    Classification,
    Episode,
)

HISTORY_S = 90 * 60.0
ASSESSMENT_WINDOW_S = 30 * 60.0  # decelerations considered by the current classification
CURRENT_WINDOW_S = 10 * 60.0  # baseline and variability of "now"
MIN_BASELINE_MINUTES = 2  # NICHD: >= 2 min of identifiable baseline in the 10 min
FEW_CONTRACTIONS = 2  # station: below this, "recurrent" = >= 3 such decelerations in 20 min
RECURRENT_WITHOUT_CONTRACTIONS = 3
MAX_CONTEXT_LOST = 1 / 3


@dataclass(frozen=True, slots=True)
class MinuteFeatures:
    start_s: float
    baseline_bpm: float | None
    band_bpm: float | None
    sinusoidal: bool = False
    stv_ms: float | None = None


class ClassificationTracker:
    def __init__(self, antepartum: bool = False, preterm: bool = False) -> None:
        self._minutes: deque[MinuteFeatures] = deque(maxlen=int(HISTORY_S // 60))
        self._episodes: deque[Episode] = deque()
        self._antepartum = antepartum
        self._first_s: float | None = None
        self._rep_figo_since: float | None = None
        self._reduced_since: float | None = None
        self._increased_since: float | None = None
        self._sin_since: float | None = None

    def add_minute(self, m: MinuteFeatures) -> None:
        if self._first_s is None:
            self._first_s = m.start_s
        self._minutes.append(m)
        end = m.start_s + 60.0
        band, sin = m.band_bpm, m.sinusoidal
        if band is not None:
            self._reduced_since = _since(self._reduced_since, band < R.MINIMAL_VARIABILITY_MAX_BPM, m.start_s)
            self._increased_since = _since(self._increased_since, band > R.MARKED_VARIABILITY_MIN_BPM, m.start_s)
        self._sin_since = _since(self._sin_since, sin, m.start_s)
        while self._episodes and self._episodes[0].end_s < end - HISTORY_S:
            self._episodes.popleft()

    def add_episode(self, e: Episode) -> None:
        """Record an episode; a deceleration with too much signal loss around it (a truncated
        piece whose shape and type are unreliable: FHRMA drops events with > 1/3 loss) is not used."""
        if e.kind == KIND_DECELERATION and e.context_lost_fraction > MAX_CONTEXT_LOST:
            return
        self._episodes.append(e)

    def _recurrent(self, t_end: float, types: tuple[str, ...]) -> bool:
        lo = t_end - R.NICHD_RECURRENT_WINDOW_S
        contr = [e for e in self._episodes if e.kind == KIND_CONTRACTION and e.peak_s >= lo]
        decs = [e for e in self._episodes if e.kind == KIND_DECELERATION and e.type in types and e.peak_s >= lo]
        if len(contr) < FEW_CONTRACTIONS:
            return len(decs) >= RECURRENT_WITHOUT_CONTRACTIONS
        tied = {d.contraction_peak_s for d in decs if d.contraction_peak_s is not None}
        n_tied = sum(1 for c in contr if c.peak_s in tied)
        return n_tied / len(contr) >= R.REPETITIVE_FRACTION

    def classify(self, t_end: float) -> Classification:
        recent = [m for m in self._minutes if m.start_s >= t_end - CURRENT_WINDOW_S]
        bases = [m.baseline_bpm for m in recent if m.baseline_bpm is not None]
        bands = [m.band_bpm for m in recent if m.band_bpm is not None]
        baseline = sum(bases) / len(bases) if len(bases) >= MIN_BASELINE_MINUTES else None
        band = _median(bands)
        win = [e for e in self._episodes if e.end_s >= t_end - ASSESSMENT_WINDOW_S]
        decs = [e for e in win if e.kind == KIND_DECELERATION]
        rep_late_prol = self._recurrent(t_end, (DEC_LATE, DEC_PROLONGED))
        rep_late = self._recurrent(t_end, (DEC_LATE,))
        rep_var = self._recurrent(t_end, (DEC_VARIABLE,))
        self._rep_figo_since = _since(self._rep_figo_since, rep_late_prol, t_end)
        start = self._first_s if self._first_s is not None else t_end
        if baseline is None or band is None:
            return Classification(INDETERMINATE, INDETERMINATE, self._nst(t_end), ("too little signal",),
                                  max(start, t_end - ASSESSMENT_WINDOW_S), t_end, baseline, band)
        reasons: list[str] = []
        figo = self._figo(t_end, baseline, band, decs, rep_late_prol, rep_var, reasons)
        nichd = self._nichd(t_end, baseline, band, decs, rep_late, rep_var, reasons)
        return Classification(figo, nichd, self._nst(t_end), tuple(reasons),
                              max(start, t_end - ASSESSMENT_WINDOW_S), t_end, baseline, band)

    def _dur(self, since: float | None, t_end: float) -> float:
        return 0.0 if since is None else t_end - since

    def _figo(self, t: float, baseline: float, band: float, decs: list[Episode], rep_lp: bool,
              rep_var: bool, reasons: list[str]) -> str:
        reduced_s = self._dur(self._reduced_since, t)
        path = []
        if baseline < R.FIGO_PATHOLOGICAL_BASELINE_BPM:
            path.append("FIGO: baseline < 100 bpm")
        if reduced_s > R.FIGO_REDUCED_VARIABILITY_PATHOLOGICAL_S:
            path.append("FIGO: reduced variability > 50 min")
        if self._dur(self._increased_since, t) > R.FIGO_INCREASED_VARIABILITY_PATHOLOGICAL_S:
            path.append("FIGO: increased variability > 30 min")
        if self._dur(self._sin_since, t) > R.FIGO_SINUSOIDAL_S:
            path.append("FIGO: sinusoidal pattern > 30 min")
        limit = (R.FIGO_REPETITIVE_PATHOLOGICAL_REDUCED_VAR_S if band < R.MINIMAL_VARIABILITY_MAX_BPM
                 else R.FIGO_REPETITIVE_PATHOLOGICAL_S)
        if self._dur(self._rep_figo_since, t) > limit:
            path.append("FIGO: repetitive late or prolonged decelerations")
        if any(d.duration_s > R.FIGO_SINGLE_DECEL_PATHOLOGICAL_S for d in decs):
            path.append("FIGO: deceleration > 5 min")
        if path:
            reasons.extend(path)
            return FIGO_PATHOLOGICAL
        susp = []
        if not R.NORMAL_BASELINE_MIN_BPM <= baseline <= R.NORMAL_BASELINE_MAX_BPM:
            susp.append("FIGO: baseline outside 110-160 bpm")
        if not R.MINIMAL_VARIABILITY_MAX_BPM <= band <= R.MARKED_VARIABILITY_MIN_BPM:
            susp.append("FIGO: variability outside 5-25 bpm")
        if self._sin_since is not None:
            susp.append("FIGO: sinusoidal undulation")
        if rep_lp or rep_var:
            susp.append("FIGO: repetitive decelerations")
        if any(d.type == DEC_PROLONGED for d in decs):
            susp.append("FIGO: prolonged deceleration")
        reasons.extend(susp)
        return FIGO_SUSPICIOUS if susp else FIGO_NORMAL

    def _nichd(self, t: float, baseline: float, band: float, decs: list[Episode], rep_late: bool,
               rep_var: bool, reasons: list[str]) -> str:
        rounded = R.NICHD_BASELINE_ROUND_BPM * round(baseline / R.NICHD_BASELINE_ROUND_BPM)
        absent = band <= R.ABSENT_VARIABILITY_MAX_BPM
        brady = rounded < R.NORMAL_BASELINE_MIN_BPM
        if (absent and (rep_late or rep_var or brady)) or self._dur(self._sin_since, t) >= R.NICHD_SINUSOIDAL_S:
            reasons.append("NICHD III: absent variability with recurrent late/variable or bradycardia, or sinusoidal")
            return NICHD_III
        moderate = R.MINIMAL_VARIABILITY_MAX_BPM < band <= R.MARKED_VARIABILITY_MIN_BPM
        bad_decs = any(d.type in (DEC_LATE, DEC_VARIABLE, DEC_PROLONGED) for d in decs)
        if R.NORMAL_BASELINE_MIN_BPM <= rounded <= R.NORMAL_BASELINE_MAX_BPM and moderate and not bad_decs:
            return NICHD_I
        reasons.append("NICHD II: not category I or III")
        return NICHD_II

    def _nst(self, t: float) -> str | None:
        if not self._antepartum or self._first_s is None:
            return None
        elapsed = t - self._first_s
        acc40 = sum(1 for e in self._episodes if e.kind == KIND_ACCELERATION and e.start_s >= t - R.NST_WINDOW_S)
        if acc40 >= R.NST_MIN_ACCELERATIONS:
            return "reactive"
        if elapsed >= R.NST_MAX_S:
            return "non_reactive"
        return "atypical" if elapsed >= R.NST_WINDOW_S else "pending"


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    v = sorted(values)
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else 0.5 * (v[mid - 1] + v[mid])


def _since(since: float | None, condition: bool, t: float) -> float | None:
    if not condition:
        return None
    return t if since is None else since
