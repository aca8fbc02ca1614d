"""Live text view of all beds: current FHR/MHR/TOCO, classification, active alarms, link."""

from __future__ import annotations

from collections.abc import Sequence

from fetal_monitor_station.station import BedView

HEADER = f"{'bed':<10} {'link':<6} {'patient':<14} {'FHR1':>5} {'FHR2':>5} {'MHR':>5} {'TOCO':>5} " \
         f"{'quality':>7}  classification / alarms"
CLEAR = "\x1b[H\x1b[2J"


def _v(x: float | None) -> str:
    return "---" if x is None else f"{x:.0f}"


def render_line(v: BedView) -> str:
    s = v.last
    ep = v.episode
    patient = "-" if ep is None else (ep.patient_id or "unidentified")
    link = "up" if v.connected else "DOWN"
    fhr1, fhr2, mhr, toco = (None, None, None, None) if s is None else (s.fhr1_bpm, s.fhr2_bpm, s.mhr_bpm, s.toco)
    tail = v.classification
    if v.alarms:
        tail = (tail + "  " if tail else "") + "ALARM: " + ", ".join(v.alarms)
    return (f"{v.bed_id:<10} {link:<6} {patient[:14]:<14} {_v(fhr1):>5} {_v(fhr2):>5} {_v(mhr):>5} {_v(toco):>5} "
            f"{v.quality.recent_valid_fraction:>7.0%}  {tail}")


def render(views: Sequence[BedView], title: str = "") -> str:
    lines = [title] if title else []
    lines.append(HEADER)
    lines.extend(render_line(v) for v in views)
    return "\n".join(lines)
