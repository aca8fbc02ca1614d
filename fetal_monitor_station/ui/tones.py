"""Audible alarm signals by priority, generated (IEC 60601-1-8 style burst patterns).

High: a burst of 10 pulses (3 + 2, pause, 3 + 2) every 5 s; medium: 3 pulses every 10 s; low:
2 pulses every 20 s. Each pulse is a fundamental with four harmonics (the standard wants at
least four in 300-4000 Hz so the sound is locatable) with 10 ms ramps. The volume a ward sets
cannot take a high-priority alarm below `VOLUME_FLOOR[3]`, so it can never be set to silence.
"""

from __future__ import annotations

import io
import math
import wave
from array import array
from dataclasses import dataclass

RATE_HZ = 22050
RAMP_S = 0.010
HARMONICS = (1.0, 0.6, 0.45, 0.3, 0.2)  # fundamental + 4 harmonics
VOLUME_FLOOR = {3: 0.6, 2: 0.3, 1: 0.0}


@dataclass(frozen=True)
class Pattern:
    fundamental_hz: float
    pulse_s: float
    gap_s: float  # between pulses in a group
    groups: tuple[int, ...]  # pulses per group
    group_gap_s: float  # between groups of one burst
    burst_gap_s: float  # pause after each burst, before it repeats
    extra_pause_after: int = -1  # high priority: a longer pause after this group (the 3+2 | 3+2 split)
    extra_pause_s: float = 0.0

    def events(self) -> list[tuple[float, float]]:
        """(start s, duration s) of every pulse of one burst."""
        out, t = [], 0.0
        for gi, n in enumerate(self.groups):
            for _ in range(n):
                out.append((t, self.pulse_s))
                t += self.pulse_s + self.gap_s
            t += self.group_gap_s - self.gap_s
            if gi == self.extra_pause_after:
                t += self.extra_pause_s
        return out

    @property
    def burst_s(self) -> float:
        start, dur = self.events()[-1]
        return start + dur

    @property
    def period_s(self) -> float:
        return self.burst_s + self.burst_gap_s


PATTERNS = {
    3: Pattern(880.0, 0.15, 0.09, (3, 2, 3, 2), 0.25, 5.0, extra_pause_after=1, extra_pause_s=0.35),
    2: Pattern(660.0, 0.20, 0.15, (3,), 0.0, 10.0),
    1: Pattern(440.0, 0.20, 0.20, (2,), 0.0, 20.0),
}


def effective_volume(priority: int, requested: float) -> float:
    """The volume actually used: never below the floor of the priority (high never silent)."""
    if priority not in PATTERNS:
        raise ValueError(f"alarm priority {priority}: want 1, 2 or 3")
    return max(VOLUME_FLOOR[priority], min(1.0, max(0.0, requested)))


def burst_pcm(priority: int, volume: float) -> array:
    """One burst and its following pause as 16-bit mono PCM at RATE_HZ."""
    p = PATTERNS[priority]
    amp = effective_volume(priority, volume) * 32767 / sum(HARMONICS)
    n_total = int(round(p.period_s * RATE_HZ))
    pcm = array("h", bytes(2 * n_total))
    ramp = int(RAMP_S * RATE_HZ)
    for start, dur in p.events():
        a, n = int(round(start * RATE_HZ)), int(round(dur * RATE_HZ))
        for i in range(n):
            env = min(1.0, i / ramp, (n - 1 - i) / ramp)
            t = i / RATE_HZ
            v = sum(h * math.sin(2 * math.pi * p.fundamental_hz * (k + 1) * t) for k, h in enumerate(HARMONICS))
            pcm[a + i] = int(amp * env * v)
    return pcm


def burst_wav(priority: int, volume: float) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE_HZ)
        w.writeframes(burst_pcm(priority, volume).tobytes())
    return buf.getvalue()
