"""The FIGO brady/tachycardia rule on the FHR level, with decelerations and accelerations excluded,
and explicit detection of recent baselines (so a return from a level shift is not a deceleration).

The live baseline of the analysis follows a change of level 4-5 min late; timing a 10-minute rule
on it, or on the raw FHR (which a deceleration interrupts), misses real episodes. Here:

- `LevelTracker` turns samples into 10-s epoch levels (median of the valid samples) and, once a
  minute, into minute levels; a *recent baseline* is a level the FHR held for >= 10 min (FIGO: a
  new baseline after >= 10 min) within the last 60 min.
- `BaselineRateRule` times "baseline above (or below) a limit" on epoch levels: an epoch beyond the
  limit holds the condition; an epoch >= 15 bpm on the other side of the episode's own level is a
  deceleration (acceleration, for bradycardia) and is excluded (neither holds nor ends it) for up
  to 3 min, longer ends it (the minute after it, its recovery, is neutral too), and so do
  excursions that make up > 40 % of a bradycardia episode's last 10 min (a normal baseline with
  recurrent decelerations is not a bradycardia; a tachycardia with recurrent decelerations stays a
  tachycardia); otherwise the episode ends when half of the last minute's epochs are
  back within the limit. The held time counts from the first epoch beyond the limit to the end of
  the last one beyond it, and the alarm fires only at an epoch beyond it.
- The prolonged-deceleration rule asks `recent_baseline_near`: FHR back at a normal-range level
  that was a baseline in the last 60 min is a return from a shift, not a deceleration against the
  lagging live baseline.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ..analysis import rules as R
from ..trace import SAMPLE_HZ, FloatArray

EPOCH_S = 10.0  # station: the level is judged every 10 s
EPOCH = int(EPOCH_S * SAMPLE_HZ)
EPOCHS_PER_MIN = int(60 / EPOCH_S)
MIN_EPOCH_VALID = EPOCH // 2
EXCURSION_BPM = R.DECEL_MIN_FALL_BPM  # a deceleration/acceleration departs >= 15 bpm from the level
MAX_EXCLUDED_S = R.FIGO_PROLONGED_DECEL_S  # a longer departure is not excluded: it ends the episode
EXCLUDED_MAX_SHARE = 0.4  # station: excluded excursions may be at most this share of the episode's...
SHARE_WINDOW = 6 * EPOCHS_PER_MIN  # ...last 10 min of held + excluded epochs (recurrent decelerations
SHARE_MIN_EPOCHS = 3 * EPOCHS_PER_MIN  # from a normal baseline are not a bradycardia), judged after 3 min
RECOVERY_S = 60.0  # station: epochs this soon after an excluded one are its recovery (neutral)
REF_EPOCHS = 6  # the episode's own level: median of its last six held epochs
END_WINDOW = EPOCHS_PER_MIN  # hysteresis: half of the last minute's judged epochs back within the limit
BASELINE_MIN_MINUTES = 10  # FIGO: a new baseline after >= 10 min
BASELINE_MEMORY_MIN = 60  # recent baselines are remembered this long (a tachycardia may last longer than 30 min)
BASELINE_BAND_BPM = 8.0  # minute levels this close to their median...
BASELINE_SHARE = 0.7  # ...in this share of the 10 minutes make that median a baseline
RETURN_BAND_BPM = 8.0  # a level this close to a recent baseline is a return to it


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    k = len(s) // 2
    return s[k] if len(s) % 2 else 0.5 * (s[k - 1] + s[k])


class LevelTracker:
    """Epoch levels (10 s) and recent baselines (>= 10 min stable in the last 60 min) of one bed."""

    __slots__ = ("_buf", "_count", "_epoch_start", "level", "_minute", "_epochs", "_minutes", "_windows", "baselines")

    def __init__(self) -> None:
        self._buf: list[float] = []
        self._count = 0
        self._epoch_start = 0.0
        self.level: float | None = None  # the last closed epoch's level
        self._minute: list[float] = []
        self._epochs = 0
        self._minutes: deque[float | None] = deque(maxlen=BASELINE_MEMORY_MIN)
        self._windows: deque[float | None] = deque(maxlen=BASELINE_MEMORY_MIN - BASELINE_MIN_MINUTES + 1)
        self.baselines: tuple[float, ...] = ()

    def push(self, t: float, f: float | None) -> tuple[float, float | None] | None:
        """Add a sample; at the end of an epoch returns (epoch start s, level or None)."""
        if self._count == 0:
            self._epoch_start = t
        if f is not None:
            self._buf.append(f)
        self._count += 1
        if self._count < EPOCH:
            return None
        return self._close_epoch()

    def push_block(self, t0: float, fhr: FloatArray) -> list[tuple[int, float, float | None, tuple[float, ...]]]:
        """Add consecutive samples from time `t0` (NaN = none), as `push` one by one would; returns
        (index in the block of the sample that closed it, epoch start s, level or None, the recent
        baselines after it) per closed epoch."""
        out = []
        n, pos = fhr.size, 0
        if self._count == 0 and n >= EPOCH:  # whole epochs: their medians at once (NaN sorts last)
            whole = n // EPOCH
            rows = np.sort(fhr[:whole * EPOCH].reshape(whole, EPOCH), axis=1)
            k = EPOCH // 2
            if np.isnan(rows[:, -1]).any():  # the median of each row's c valid samples (sorted first)
                count = EPOCH - np.isnan(rows).sum(axis=1)
                at = np.arange(whole)
                # rows[(c - 1) // 2] and rows[c // 2]: the same sample when c is odd (0.5 * (x + x) == x)
                mid = 0.5 * (rows[at, np.maximum(count - 1, 0) // 2] + rows[at, np.minimum(count // 2, EPOCH - 1)])
                levels = [None if c < MIN_EPOCH_VALID else m for c, m in zip(count.tolist(), mid.tolist(), strict=True)]
            else:  # no gap: every epoch has all EPOCH (even) samples
                levels = (0.5 * (rows[:, k - 1] + rows[:, k])).tolist()
            for e, level in enumerate(levels):
                self._epoch_start = t0 + e * EPOCH / SAMPLE_HZ
                out.append(((e + 1) * EPOCH - 1, *self._close_epoch_with(level), self.baselines))
            pos = whole * EPOCH
        while pos < n:
            if self._count == 0:
                self._epoch_start = t0 + pos / SAMPLE_HZ
            take = min(n - pos, EPOCH - self._count)
            seg = fhr[pos:pos + take]
            self._buf.extend(seg[~np.isnan(seg)].tolist())
            self._count += take
            pos += take
            if self._count == EPOCH:
                start, level = self._close_epoch()
                out.append((pos - 1, start, level, self.baselines))
        return out

    def _close_epoch(self) -> tuple[float, float | None]:
        return self._close_epoch_with(_median(self._buf) if len(self._buf) >= MIN_EPOCH_VALID else None)

    def _close_epoch_with(self, level: float | None) -> tuple[float, float | None]:
        self._buf = []
        self._count = 0
        self.level = level
        if level is not None:
            self._minute.append(level)
        self._epochs += 1
        if self._epochs == EPOCHS_PER_MIN:
            self._close_minute()
        return self._epoch_start, level

    def _close_minute(self) -> None:
        self._minutes.append(_median(self._minute) if len(self._minute) * 2 >= EPOCHS_PER_MIN else None)
        self._minute = []
        self._epochs = 0
        # a window of 10 minutes never changes once closed: judge only the newest, keep the others'
        # verdicts (one per window still inside the memory)
        ms = self._minutes
        if len(ms) < BASELINE_MIN_MINUTES:
            return
        wins = self._windows
        dropped = wins[0] if len(wins) == wins.maxlen else None
        verdict = _stable_level([ms[k] for k in range(len(ms) - BASELINE_MIN_MINUTES, len(ms))])
        wins.append(verdict)
        if verdict is None and dropped is None:
            return  # the set of baselines is unchanged
        found: list[float] = []
        prev = None
        half = RETURN_BAND_BPM / 2
        for mid in self._windows:  # plain loops: this runs every minute over up to 51 verdicts
            # a repeat of the window before it cannot be added (it was, or one near it was)
            if mid is not None and mid != prev:
                for b in found:
                    if abs(mid - b) <= half:
                        break
                else:
                    found.append(mid)
            prev = mid
        self.baselines = tuple(found)

    def recent_baseline_near(self, level: float) -> float | None:
        """A recent baseline in the normal range within `RETURN_BAND_BPM` of `level`, if any."""
        return baseline_near(self.baselines, level)


def _stable_level(minutes: list[float | None]) -> float | None:
    """The median of 10 minute levels if it is a baseline (enough of them close to it), else None."""
    window = [m for m in minutes if m is not None]
    if len(window) < BASELINE_SHARE * BASELINE_MIN_MINUTES:
        return None
    mid = _median(window)
    near = sum(1 for m in window if abs(m - mid) <= BASELINE_BAND_BPM)
    return mid if near >= BASELINE_SHARE * BASELINE_MIN_MINUTES else None


def baseline_near(baselines: tuple[float, ...], level: float) -> float | None:
    """The first of `baselines` in the normal range within `RETURN_BAND_BPM` of `level`, if any."""
    for b in baselines:
        if R.NORMAL_BASELINE_MIN_BPM <= b <= R.NORMAL_BASELINE_MAX_BPM and abs(level - b) <= RETURN_BAND_BPM:
            return b
    return None


class BaselineRateRule:
    """Timer for 'the baseline is beyond `limit`' (sign +1: above, tachycardia; -1: below, bradycardia)."""

    __slots__ = ("_sign", "_limit", "since", "last_held_s", "_refs", "_judged", "_excluded_since", "_excluded_end",
                 "holding", "_kinds")

    def __init__(self, sign: int, limit_bpm: float) -> None:
        self._sign = sign
        self._limit = limit_bpm
        self.since: float | None = None  # start of the first epoch beyond the limit
        self.last_held_s = 0.0  # end of the last epoch beyond the limit (kept after the episode ends)
        self._refs: deque[float] = deque(maxlen=REF_EPOCHS)
        self._judged: deque[bool] = deque(maxlen=END_WINDOW)  # True = beyond the limit
        self._excluded_since: float | None = None
        self._excluded_end: float | None = None  # end of the last excluded epoch
        self.holding = False  # the latest epoch held the condition (or was an excluded excursion)
        self._kinds: deque[bool] = deque(maxlen=SHARE_WINDOW)  # True = excluded, False = held

    def held_for(self) -> float:
        return 0.0 if self.since is None else self.last_held_s - self.since

    def epoch(self, start_s: float, level: float | None, levels: LevelTracker) -> None:
        """Judge one closed epoch (`level` None = too little signal: neither feeds nor ends)."""
        if level is None:
            return
        end_s = start_s + EPOCH_S
        beyond = self._sign * (level - self._limit) > 0
        if self.since is None:
            if beyond:
                self.since = start_s
                self._refs.clear()
                self._judged.clear()
                self._excluded_since = None
                self._excluded_end = None
                self._kinds.clear()
                self._hold(level, end_s)
            else:
                self.holding = False
            return
        if beyond:
            self._hold(level, end_s)
            return
        ref = _median(list(self._refs))
        if self._sign * (level - ref) <= -EXCURSION_BPM:
            # a deceleration (an acceleration, below the limit) inside the episode: excluded from the
            # baseline; it neither ends the episode nor counts as held, and no alarm fires during it
            if self._excluded_since is None:
                self._excluded_since = start_s
            self._excluded_end = end_s
            self.holding = False
            self._kinds.append(True)
            n = len(self._kinds)
            if end_s - self._excluded_since > MAX_EXCLUDED_S or \
                    (self._sign < 0 and n >= SHARE_MIN_EPOCHS and sum(self._kinds) > EXCLUDED_MAX_SHARE * n):
                self._end()  # too long, or too often, for a deceleration: the level is back
            return
        self._excluded_since = None
        self.holding = False
        if self._excluded_end is not None and start_s - self._excluded_end < RECOVERY_S:
            return  # the return from a deceleration: neither holds nor ends the episode
        self._judged.append(False)
        if 2 * sum(1 for j in self._judged if not j) >= END_WINDOW:
            self._end()

    def _hold(self, level: float, end_s: float) -> None:
        self._refs.append(level)
        self._kinds.append(False)
        self._judged.append(True)
        self._excluded_since = None
        self.last_held_s = end_s
        self.holding = True

    def _end(self) -> None:
        self.since = None
        self.holding = False
