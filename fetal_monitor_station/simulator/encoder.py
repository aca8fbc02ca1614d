"""Pure encoder: one 4 Hz `CtgSample` -> the Corometrics 115 bytes a monitor sends in that tick.

Per tick: HR2 (fetal channel 2, or maternal HR when the HR mode says so), two UA values
(UA runs at 8/s), fetal movement, an event mark when pressed, the recorder status once a
second, the modes at start and once a minute, and HR1 last (HR1 clocks the host's samples).
"""

from __future__ import annotations

from dataclasses import dataclass

from fetal_monitor_station.monitor import corometrics as c
from fetal_monitor_station.monitor.events import FetalMovementState, HrRole
from fetal_monitor_station.trace import SAMPLE_HZ, CtgSample

UA_PER_TICK = 2
MODES_EVERY_TICKS = 60 * SAMPLE_HZ
PAPER_EVERY_TICKS = SAMPLE_HZ
HR_MODE_TWINS = "U"  # channel 2 carries a second fetal heart rate (PROVISIONAL code, see corometrics)
HR_MODE_MATERNAL = "M"  # channel 2 carries maternal HR
UA_MODE_TOCO = "T"  # PROVISIONAL code


def _hr(v: float | None) -> int | None:
    if v is None:
        return None
    iv = int(round(v))
    lo, hi = c.HR_VALID_BPM
    return iv if lo <= iv <= hi else None


def _ua(v: float | None) -> int | None:
    if v is None:
        return None
    lo, hi = c.UA_VALID
    return min(max(int(round(v)), lo), hi)


@dataclass
class TickEncoder:
    hr_mode: str = HR_MODE_MATERNAL
    ua_mode: str = UA_MODE_TOCO
    paper_out: bool = False
    ticks: int = 0

    def selectors(self) -> frozenset[int]:
        return c.RESPONSE_TYPES

    def encode(self, sample: CtgSample, only: frozenset[int] | None = None) -> bytes:
        """The bytes of one tick; `only` restricts to requested response types (Transmit/Receive)."""
        roles = c.HR_MODE_ROLES.get(self.hr_mode, c.DEFAULT_HR_ROLES)
        parts: list[tuple[int, bytes]] = []
        if self.ticks % MODES_EVERY_TICKS == 0:
            parts.append((c.RT_MODES, c.modes_frame(self.hr_mode, self.ua_mode)))
        hr2 = sample.mhr_bpm if roles[1] is HrRole.MATERNAL else sample.fhr2_bpm
        parts.append((c.RT_HR2, c.hr_frame(2, _hr(hr2))))
        ua = c.ua_frame(_ua(sample.toco))
        parts.extend((c.RT_UA, ua) for _ in range(UA_PER_TICK))
        fm = FetalMovementState.DETECTED if sample.movement else FetalMovementState.NONE
        parts.append((c.RT_FM, c.fm_frame(fm)))
        if sample.mark:
            parts.append((c.RT_MARK, c.mark_frame()))
        if self.ticks % PAPER_EVERY_TICKS == 0:
            parts.append((c.RT_PAPER_OUT, c.paper_frame(self.paper_out)))
        parts.append((c.RT_HR1, c.hr_frame(1, _hr(sample.fhr1_bpm))))
        self.ticks += 1
        return b"".join(frame for code, frame in parts if only is None or code in only)
