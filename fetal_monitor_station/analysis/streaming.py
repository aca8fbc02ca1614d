"""Streaming, incremental CTG analysis of one bed.

`push(sample)` is a few attribute updates; every `knot_s` (60 s) sliding histograms take in
the samples that entered and drop those that left, the baseline is re-estimated and the
stretch that now has its look-ahead is settled: events, per-minute features and the
classification come out of it `lookahead_s` (5 min) behind real time. Live values (last
sample, live baseline of the trailing 10 min, signal quality) are current at every sample;
the alarms use them. `push_block` does the same for many samples at once (offline).
Memory is bounded by `history_s` ring buffers. Samples are assumed consecutive at 4 Hz:
the runtime fills a gap with empty samples.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ..trace import SAMPLE_HZ, CtgSample, FloatArray
from . import rules as R
from .artefact import artefact_islands
from .baseline import baseline_from_histograms, fine_histogram, share_near
from .classify import ClassificationTracker, MinuteFeatures
from .config import CHANNEL_AUTO, CHANNEL_FHR2, AnalysisConfig
from .detect import ExcursionDetector, ExcursionRule, type_deceleration
from .events import (
    KIND_ACCELERATION,
    KIND_CLASSIFICATION,
    KIND_CONTRACTION,
    KIND_DECELERATION,
    KIND_MINUTE,
    AnalysisEvent,
    Classification,
    Episode,
    Snapshot,
)
from .histogram import SlidingHistogram
from .live import LiveSignal
from .minute import SINUSOIDAL_WINDOW, SPM, minute_features
from .ring import Ring
from .shape import (
    CONTEXT,
    LEVEL_BAND_BPM,
    LEVEL_SWITCH_MIN_BPM,
    NADIR_SMOOTH,
    ONSET_SEARCH,
    level_change,
    refine_deceleration,
)
from .util import median, ramp

MIN_VALID_SAMPLES = int(R.BASELINE_MIN_VALID_S * SAMPLE_HZ)
MAX_MINUTE_DEFER = 10 * SPM  # a minute waits for an open excursion at most this long
EPISODE_MEMORY_S = 3600.0
SHIFT_TAIL = int(60.0 * SAMPLE_HZ)  # the last minute of an excursion tells a level shift
MERGE_GAP = int(60.0 * SAMPLE_HZ)  # station: pieces of a deceleration across a gap this short are joined
ISLAND_SCAN = int(180.0 * SAMPLE_HZ)  # artefact islands are looked for in the last 3 min at each knot
START_CLEAR_SHARE = 0.8  # station: a start with more than a fifth in excursions waits for more
TOCO_MIN_VALID_FRACTION = 0.25
TOCO_HIST_MAX = 256.0  # toco beyond this is left out of the toco baseline
TOCO_BIN = 0.5


class StreamingAnalyzer:
    def __init__(self, config: AnalysisConfig | None = None) -> None:
        cfg = config or AnalysisConfig()
        self.config = cfg
        hz = SAMPLE_HZ
        self._knot = max(1, int(round(cfg.knot_s * hz)))
        self._look = max(1, int(round(cfg.lookahead_s * hz / self._knot))) * self._knot
        self._back = int(cfg.lookback_s * hz)
        self._len = int(cfg.history_s * hz)
        # FIGO: the baseline is read over 10 min; an unclear start waits until that much is in
        self._first = max(self._look, int(R.BASELINE_WINDOW_S * hz))
        self._bands = cfg.selective_bands_bpm
        self._fhr, self._toco, self._base, self._tbase = (Ring(self._len) for _ in range(4))
        # samples of artefact islands erased from `_fhr` (absolute indices, values), for `recent_fhr`
        self._erased: deque[tuple[np.ndarray, FloatArray]] = deque()
        self._h_live, self._h_local, self._h_wide = (
            SlidingHistogram(self._fhr, R.PLAUSIBLE_FHR_MIN_BPM, R.PLAUSIBLE_FHR_MAX_BPM, 0.25) for _ in range(3))
        self._h_toco = SlidingHistogram(self._toco, 0.0, TOCO_HIST_MAX, TOCO_BIN, with_sums=False)
        self._n = 0
        self._t0 = 0.0
        self._live = LiveSignal(cfg.coincidence_bpm, cfg.halving_tolerance_bpm)
        self._live_base: float | None = None
        self._last_window_baseline: float | None = None
        self._knot_i: int | None = None
        self._knot_v: float | None = None
        self._tknot_v: float | None = None
        self._settled = 0
        acc_rise = R.ACCEL_PRETERM_RISE_BPM if cfg.preterm else R.ACCEL_MIN_RISE_BPM
        acc_dur = R.ACCEL_PRETERM_DURATION_S if cfg.preterm else R.ACCEL_MIN_DURATION_S
        self._det = ExcursionDetector([
            ExcursionRule(1, KIND_ACCELERATION, cfg.edge_bpm, acc_rise, acc_dur, R.ACCEL_MAX_DURATION_S),
            ExcursionRule(-1, KIND_DECELERATION, cfg.edge_bpm, R.DECEL_MIN_FALL_BPM, R.DECEL_MIN_DURATION_S),
        ], hz)
        self._tdet = ExcursionDetector([ExcursionRule(1, KIND_CONTRACTION, cfg.toco_edge, R.CONTRACTION_MIN_RISE,
                                                      R.CONTRACTION_MIN_DURATION_S)], hz)
        self._episodes: deque[Episode] = deque()
        self._contractions: deque[Episode] = deque()
        self._pending: list[Episode] = []
        self._next_minute = 0
        self._tracker = ClassificationTracker(cfg.antepartum, cfg.preterm)
        self._class: Classification | None = None
        self._minutes: deque[MinuteFeatures] = deque(maxlen=10)
        self._stv: deque[float] = deque(maxlen=60)
        self._finished = False
        self._slow: tuple[float | None, float | None, float | None, bool, float | None] = (
            None, None, None, False, None)
        self.baseline_sink: list[tuple[int, FloatArray]] | None = None  # offline: settled baseline pieces

    # ------------------------------------------------------------------ per sample
    def _pick(self, s: CtgSample) -> float | None:
        ch = self.config.fhr_channel
        f = s.fhr2_bpm if ch == CHANNEL_FHR2 else s.fhr1_bpm
        if f is None and ch == CHANNEL_AUTO:
            f = s.fhr2_bpm
        if f is None or not R.PLAUSIBLE_FHR_MIN_BPM <= f <= R.PLAUSIBLE_FHR_MAX_BPM:
            return None
        return f

    def push(self, sample: CtgSample) -> list[AnalysisEvent]:
        """Add the next 4 Hz sample; returns what the analysis settled on this push."""
        if self._finished:
            raise RuntimeError("analyzer already finished; create a new one")
        i = self._n
        if i == 0:
            self._t0 = float(sample.t_s) if np.isfinite(sample.t_s) else 0.0
        f = self._pick(sample)
        toco = sample.toco if sample.toco is not None and 0.0 <= sample.toco <= 1000.0 else None
        j = i % self._len
        self._fhr.data[j] = np.nan if f is None else f
        self._toco.data[j] = np.nan if toco is None else toco
        self._live.sample(i, self._t0 + i / SAMPLE_HZ, f, sample.mhr_bpm, toco, self._live_base)
        self._n = i + 1
        if self._n % self._knot:
            return []
        return self._on_knot()

    def push_block(self, fhr1_bpm: FloatArray, fhr2_bpm: FloatArray | None = None,
                   mhr_bpm: FloatArray | None = None, toco: FloatArray | None = None,
                   t0_s: float = 0.0, knot_snapshots: list[tuple[int, Snapshot]] | None = None
                   ) -> list[AnalysisEvent]:
        """Push consecutive 4 Hz samples at once (NaN = no signal): the same state and the same
        events as pushing them one by one, with the per-sample work done by numpy. With
        `knot_snapshots`, the snapshot after each knot inside the block (not at its last sample) is
        appended to it with the index of that sample in the block (what the alarms need, offline)."""
        if self._finished:
            raise RuntimeError("analyzer already finished; create a new one")
        f1 = np.asarray(fhr1_bpm, dtype=np.float64)
        n = f1.size
        nan = np.full(n, np.nan)
        f2 = nan if fhr2_bpm is None else np.asarray(fhr2_bpm, dtype=np.float64)
        mh = nan if mhr_bpm is None else np.asarray(mhr_bpm, dtype=np.float64)
        tc = nan if toco is None else np.asarray(toco, dtype=np.float64)
        ch = self.config.fhr_channel
        f = f2 if ch == CHANNEL_FHR2 else (np.where(np.isnan(f1), f2, f1) if ch == CHANNEL_AUTO else f1)
        with np.errstate(invalid="ignore"):
            f = np.where((f >= R.PLAUSIBLE_FHR_MIN_BPM) & (f <= R.PLAUSIBLE_FHR_MAX_BPM), f, np.nan)
            tc = np.where((tc >= 0.0) & (tc <= 1000.0), tc, np.nan)
        if self._n == 0 and n:
            self._t0 = float(t0_s) if np.isfinite(t0_s) else 0.0
        out: list[AnalysisEvent] = []
        pos = 0
        while pos < n:
            i = self._n
            step = min(n - pos, self._knot - i % self._knot)
            fs, ms, ts = f[pos:pos + step], mh[pos:pos + step], tc[pos:pos + step]
            self._fhr.put_range(i, fs)
            self._toco.put_range(i, ts)
            self._live.block(i, self._t0, fs, ms, ts, self._live_base)
            self._n = i + step
            pos += step
            if self._n % self._knot == 0:
                out += self._on_knot()
                if knot_snapshots is not None and pos < n:
                    knot_snapshots.append((pos - 1, self.snapshot()))
        return out

    def recent_fhr(self, n: int) -> FloatArray:
        """The last `n` (<= history) fetal samples pushed, as the analysis took them (channel picked,
        implausible values NaN; artefact islands kept): what the alarms judge."""
        lo = max(0, self._n - n)
        out = self._fhr.get(lo, self._n)
        for at, values in self._erased:  # artefact islands are the settled analysis's business only
            inside = at >= lo
            out[at[inside] - lo] = values[inside]
        return out

    # ------------------------------------------------------------------ per knot
    def _on_knot(self) -> list[AnalysisEvent]:
        n = self._n
        self._reject_islands(n)
        k = n - self._look
        startup = k < 0
        if not startup and self._knot_i is None and n < self._first:
            # the first settled baseline waits (up to `_first` samples) while excursions fill much
            # of the first minutes, so a deceleration there is not taken for the level
            self._h_live.move_to(0, n)
            startup = not self._start_is_clear(self._h_live.counts, self._h_live.sums)
        if startup:  # start-up: the trailing window is all there is
            h = self._h_live
            h.move_to(0, n)
            live = baseline_from_histograms(h.counts, h.sums, MIN_VALID_SAMPLES, self._live_base,
                                            bands_bpm=self._bands)
            out = []
        else:  # the settled knot's window [k - lookahead, k + lookahead) is the trailing window
            out = self._settle_knot(k, n)
            live = self._last_window_baseline
        if live is not None:
            self._live_base = live
        self._refresh_slow()
        return out

    def _reject_islands(self, n: int) -> None:
        """Artefact islands (`artefact.py`) of the last `ISLAND_SCAN` samples become gaps for the
        settled analysis (baseline, events, variability; the live values keep what came in), taken
        out of the FHR histograms too. One is known once the signal is back after it, minutes
        before its samples are settled."""
        if not np.isnan(self._fhr.get(max(0, n - self._knot - 1), n)).any():
            return  # no signal came back in this knot: no island can have become known
        lo = max(0, n - self._len, n - ISLAND_SCAN)
        recent = self._fhr.get(lo, n)
        mask = artefact_islands(recent)
        if not mask.any():
            return
        at = mask.nonzero()[0]
        for h in (self._h_live, self._h_local, self._h_wide):
            h.forget(at + lo, recent[at])
        self._fhr.data[(at + lo) % self._len] = np.nan
        while self._erased and int(self._erased[0][0][-1]) < n - self._len:
            self._erased.popleft()
        self._erased.append((at + lo, recent[at]))

    def _start_is_clear(self, counts: FloatArray, sums: FloatArray) -> bool:
        """The first minutes hold a level: most of their samples within 15 bpm of it (FIGO: beyond
        that an excursion is an acceleration or a deceleration)."""
        level = baseline_from_histograms(counts, sums, MIN_VALID_SAMPLES, None, bands_bpm=self._bands)
        return level is not None and share_near(counts, level, R.DECEL_MIN_FALL_BPM) >= START_CLEAR_SHARE

    def _settle_knot(self, k: int, n_avail: int) -> list[AnalysisEvent]:
        floor = max(0, n_avail - self._len)
        lo = max(floor, k - self._look)
        hi = min(n_avail, k + self._look)
        loc, wide, toco = self._h_local, self._h_wide, self._h_toco
        loc.move_to(lo, hi)
        wide.move_to(max(floor, k - self._back), hi)
        val = baseline_from_histograms(loc.counts, loc.sums, MIN_VALID_SAMPLES, self._knot_v, wide.counts,
                                       self._bands)
        back_hi = max(lo, min(k, hi))
        val = level_change(val, loc.counts, loc.sums, MIN_VALID_SAMPLES,
                           lambda: fine_histogram(self._fhr.get(lo, back_hi))[0], self._bands)
        self._last_window_baseline = val
        toco.move_to(lo, hi)
        tval = toco.percentile(self.config.toco_baseline_percentile) \
            if toco.total >= TOCO_MIN_VALID_FRACTION * max(1, hi - lo) else self._tknot_v
        a = self._knot_i if self._knot_i is not None else 0
        if k > a:
            self._base.put_range(a, ramp(self._knot_v, val, k - a))
            self._tbase.put_range(a, ramp(self._tknot_v, tval, k - a))
            if self.baseline_sink is not None:
                self._base_piece(a, k)
        self._knot_i = k
        self._knot_v = val if val is not None else self._knot_v
        self._tknot_v = tval
        return self._process(a, k) if k > a else []

    def _base_piece(self, a: int, b: int) -> None:
        assert self.baseline_sink is not None
        self.baseline_sink.append((a, self._base.get(a, b)))

    def _t(self, i: int) -> float:
        return self._t0 + i / SAMPLE_HZ

    def _reported_t(self) -> float:
        """Time of the latest pushed sample: when an output is reported (its span is older)."""
        return self._t(max(0, self._n - 1))

    def _event(self, ep: Episode) -> AnalysisEvent:
        n_valid = int(round((1.0 - ep.lost_fraction) * ep.duration_s * SAMPLE_HZ))
        shifted = Episode(ep.kind, ep.start_s + self._t0, ep.end_s + self._t0, ep.peak_s + self._t0, ep.amplitude,
                          ep.baseline_bpm, ep.type, None if ep.contraction_peak_s is None
                          else ep.contraction_peak_s + self._t0, ep.lost_fraction,
                          None if ep.onset_s is None else ep.onset_s + self._t0, ep.context_lost_fraction)
        return AnalysisEvent(ep.kind, self._reported_t(), shifted.start_s, shifted.end_s, n_valid, episode=shifted)

    def _process(self, a: int, b: int) -> list[AnalysisEvent]:
        """Settle samples [a, b): events, minutes, classification."""
        fhr, base = self._fhr.get(a, b), self._base.get(a, b)
        out: list[AnalysisEvent] = []
        for ep in self._det.feed(a, fhr - base, base):
            self._episodes.append(ep)
            if self._is_level_shift(ep):
                continue  # the baseline moved: not an event (its samples stay out of the variability)
            if ep.kind == KIND_ACCELERATION:
                self._tracker.add_episode(ep)
                out.append(self._event(ep))
            else:
                self._add_pending(ep)
        toco, tbase = self._toco.get(a, b), self._tbase.get(a, b)
        for c in self._tdet.feed(a, toco - tbase, tbase):
            self._contractions.append(c)
            self._tracker.add_episode(c)
            out.append(self._event(c))
        self._settled = b
        horizon = b / SAMPLE_HZ - EPISODE_MEMORY_S
        while self._episodes and self._episodes[0].end_s < horizon:
            self._episodes.popleft()
        while self._contractions and self._contractions[0].end_s < horizon:
            self._contractions.popleft()
        out += self._type_pending(b, force=False)
        out += self._close_minutes(b, force=False)
        return out

    def _is_level_shift(self, ep: Episode) -> bool:
        """An excursion that is the baseline changing level (FIGO: a new baseline after >= 10 min),
        seen against the settled baseline that adopts the change minutes late: the baseline ends
        >= 10 bpm beyond where it started, in the excursion's direction, and the FHR of the
        excursion's last minute sits at that new baseline. A prolonged deceleration of < 7 min
        cannot move the settled baseline (`shape.level_change`), so it is never taken for one."""
        a, e = int(round(ep.start_s * SAMPLE_HZ)), int(round(ep.end_s * SAMPLE_HZ))
        if a < self._n - self._len or e - a < SHIFT_TAIL:
            return False
        b0, b1 = float(self._base.data[a % self._len]), float(self._base.data[(e - 1) % self._len])
        sign = 1.0 if ep.amplitude > 0 else -1.0
        if not sign * (b1 - b0) >= LEVEL_SWITCH_MIN_BPM:
            return False
        tail = self._fhr.get(e - SHIFT_TAIL, e)
        tail = tail[np.isfinite(tail)]
        return tail.size > 0 and abs(float(np.median(tail)) - b1) <= LEVEL_BAND_BPM

    def _gap_only(self, a: int, b: int) -> bool:
        """Samples [a, b) are a signal gap short enough to join two pieces of one deceleration."""
        return 0 <= b - a <= MERGE_GAP and a >= self._n - self._len and bool(np.isnan(self._fhr.get(a, b)).all())

    def _add_pending(self, ep: Episode) -> None:
        """A deceleration that a signal gap (> 15 s, which ends a run) cut in two is one deceleration:
        its pieces are joined before typing (a prolonged one would otherwise be typed as two short ones)."""
        if self._pending:
            prev = self._pending[-1]
            a, b = int(round(prev.end_s * SAMPLE_HZ)), int(round(ep.start_s * SAMPLE_HZ))
            if self._gap_only(a, b):
                span = ep.end_s - prev.start_s
                lost = (prev.lost_fraction * prev.duration_s + ep.lost_fraction * ep.duration_s
                        + (ep.start_s - prev.end_s)) / span
                deeper = ep if ep.amplitude < prev.amplitude else prev
                ep = Episode(ep.kind, prev.start_s, ep.end_s, deeper.peak_s, deeper.amplitude, deeper.baseline_bpm,
                             lost_fraction=min(1.0, lost))
                self._pending.pop()
        self._pending.append(self._smoothed_nadir(ep))

    def _continued(self, d: Episode) -> bool:
        """An open deceleration run that starts right after `d`'s end, across a signal gap only."""
        open_i = self._det.open_since
        if open_i is None or self._det.open_sign >= 0:
            return False
        return self._gap_only(int(round(d.end_s * SAMPLE_HZ)), open_i)

    def _smoothed_nadir(self, ep: Episode) -> Episode:
        a, b = int(round(ep.start_s * SAMPLE_HZ)), int(round(ep.end_s * SAMPLE_HZ))
        lo = max(a - ONSET_SEARCH, self._n - self._len, 0)
        if b - a < NADIR_SMOOTH or a < lo:
            return ep
        dev = self._fhr.get(lo, b) - self._base.get(lo, b)
        context = self._fhr.get(max(lo, a - CONTEXT), min(b + CONTEXT, self._n))
        return refine_deceleration(ep, dev, lo, context)

    def _type_pending(self, b: int, force: bool) -> list[AnalysisEvent]:
        out, keep = [], []
        for d in self._pending:
            if force or (b / SAMPLE_HZ >= d.end_s + self.config.decel_typing_delay_s and not self._continued(d)):
                typed = type_deceleration(d, self._contractions, self.config.prolonged_decel_s)
                self._tracker.add_episode(typed)
                out.append(self._event(typed))
            else:
                keep.append(d)
        self._pending = keep
        return out

    def _close_minutes(self, b: int, force: bool) -> list[AnalysisEvent]:
        out: list[AnalysisEvent] = []
        limit = b
        open_i = self._det.open_since
        if open_i is not None and not force and b - open_i < MAX_MINUTE_DEFER:
            limit = min(limit, open_i)
        while (self._next_minute + 1) * SPM <= limit:
            m0 = self._next_minute * SPM
            m1 = m0 + SPM
            out += self._minute(m0, m1)
            self._next_minute += 1
        return out

    def _minute(self, m0: int, m1: int) -> list[AnalysisEvent]:
        sin_dev = None
        if m1 - SINUSOIDAL_WINDOW >= max(0, self._n - self._len):
            sin_dev = self._fhr.get(m1 - SINUSOIDAL_WINDOW, m1) - self._base.get(m1 - SINUSOIDAL_WINDOW, m1)
        mf, n_valid = minute_features(m0, self._fhr.get(m0, m1), self._base.get(m0, m1), self._episodes, sin_dev)
        baseline, band, stv, sin = mf.baseline_bpm, mf.band_bpm, mf.stv_ms, mf.sinusoidal
        self._minutes.append(mf)
        if stv is not None:
            self._stv.append(stv)
        self._tracker.add_minute(mf)
        out = [AnalysisEvent(KIND_MINUTE, self._reported_t(), self._t(m0), self._t(m1), n_valid,
                             values={"baseline_bpm": baseline, "band_bpm": band, "stv_ms": stv,
                                     "sinusoidal": 1.0 if sin else 0.0})]
        cl = self._tracker.classify(m1 / SAMPLE_HZ)
        prev = self._class
        self._class = cl
        if prev is None or (prev.figo, prev.nichd, prev.nst) != (cl.figo, cl.nichd, cl.nst):
            out.append(AnalysisEvent(KIND_CLASSIFICATION, self._reported_t(), self._t0 + cl.window_start_s,
                                     self._t0 + cl.window_end_s, n_valid, classification=cl))
        return out

    # ------------------------------------------------------------------ end, snapshot
    def finish(self) -> list[AnalysisEvent]:
        """Settle everything pushed so far (end of a recording); the analyzer is then closed."""
        out: list[AnalysisEvent] = []
        n = self._n
        if n == 0 or self._finished:
            self._finished = True
            return out
        # nothing settled yet (a short recording): the first settlement sees all of it
        k = (self._knot_i + self._knot) if self._knot_i is not None else min(n, self._look)
        while k < n:
            out += self._settle_knot(k, n)
            k += self._knot
        out += self._settle_knot(n, n)
        for ep in self._det.flush(n):
            self._episodes.append(ep)
            if ep.kind == KIND_ACCELERATION:
                self._tracker.add_episode(ep)
                out.append(self._event(ep))
            else:
                self._pending.append(ep)
        for c in self._tdet.flush(n):
            self._contractions.append(c)
            self._tracker.add_episode(c)
            out.append(self._event(c))
        out += self._type_pending(n, force=True)
        out += self._close_minutes(n, force=True)
        self._finished = True
        self._refresh_slow()
        return out

    def _refresh_slow(self) -> None:
        """Per-knot summaries the snapshot reuses (keeps `snapshot()` cheap at 4 Hz)."""
        bands = [m.band_bpm for m in self._minutes if m.band_bpm is not None]
        settled_s = self._settled / SAMPLE_HZ
        per10 = None
        tachy = False
        if settled_s >= 600.0:
            per10 = float(sum(1 for c in self._contractions if c.peak_s >= settled_s - 600.0))
        if settled_s >= R.TACHYSYSTOLE_WINDOW_S:
            n30 = sum(1 for c in self._contractions if c.peak_s >= settled_s - R.TACHYSYSTOLE_WINDOW_S)
            tachy = n30 / 3.0 > R.TACHYSYSTOLE_PER_10_MIN
        settled_base = self._base.data[(self._settled - 1) % self._len] if self._settled else np.nan
        self._slow = (median(bands), sum(self._stv) / len(self._stv) if self._stv else None,
                      per10, tachy, float(settled_base) if np.isfinite(settled_base) else None)

    def snapshot(self) -> Snapshot:
        t = self._t0 + max(0, self._n - 1) / SAMPLE_HZ
        variability, stv, per10, tachy, settled_base = self._slow
        quality = self._live.quality(t, self._n)
        return Snapshot(
            t_s=t, fhr_bpm=self._live.last_fhr, mhr_bpm=self._live.last_mhr, toco=self._live.last_toco,
            live_baseline_bpm=self._live_base, baseline_bpm=settled_base, variability_bpm=variability,
            stv_ms=stv, classification=self._class, contractions_per_10min=per10, tachysystole=tachy,
            quality=quality, settled_until_s=self._t0 + self._settled / SAMPLE_HZ)
