"""The A4 CTG report as a PDF at true paper scale (reportlab, millimetres).

Page 1: patient and episode, the analysis summary and classification with its reasons, events,
alarms and acknowledgements, notes, signature lines. Then the trace pages, A4 landscape: a 270 mm
strip per page (9 min at 3 cm/min, 27 min at 1 cm/min), FHR 80 mm (50-210 at 20 bpm/cm) or 70 mm
(30-240 at 30 bpm/cm) and TOCO 40 mm, with the paper grid, the scale printed on every page.
Print at 100 % ("fit to page" off) for the scale to hold on paper.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from pathlib import Path

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas

from fetal_monitor_station.errors import StationError
from fetal_monitor_station.report.content import ReportContent
from fetal_monitor_station.report.paper import NORMAL_BAND_BPM, Paper, polylines

FONT_NAME = "StationCJK"
PAGE_W_MM, PAGE_H_MM = 297.0, 210.0
STRIP_W_MM = 270.0
LEFT_MM = (PAGE_W_MM - STRIP_W_MM) / 2
FHR_TOP_MM = 182.0
STRIP_GAP_MM = 8.0
GRID_MINOR = (0.96, 0.72, 0.72)
GRID_MAJOR = (0.82, 0.3, 0.3)
BAND = (0.9, 0.97, 0.9)
FHR_COLOURS = {"fhr1_bpm": (0.0, 0.0, 0.0), "fhr2_bpm": (0.0, 0.45, 0.15), "mhr_bpm": (0.55, 0.1, 0.5)}


def register_font(path: Path) -> str:
    if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        try:
            pdfmetrics.registerFont(TTFont(FONT_NAME, str(path), subfontIndex=0))
        except (TTFError, OSError) as exc:
            raise StationError(f"report font {path}: {exc}") from None
    return FONT_NAME


def _hhmm(t: float, seconds: bool = False) -> str:
    return time.strftime("%H:%M:%S" if seconds else "%H:%M", time.localtime(t))


def _date(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


class _Writer:
    def __init__(self, pdf: Canvas, font: str) -> None:
        self.pdf = pdf
        self.font = font

    def text(self, x_mm: float, y_mm: float, s: str, size: float = 10, right: bool = False) -> None:
        self.pdf.setFillColorRGB(0, 0, 0)
        self.pdf.setFont(self.font, size)
        if right:
            self.pdf.drawRightString(x_mm * mm, y_mm * mm, s)
        else:
            self.pdf.drawString(x_mm * mm, y_mm * mm, s)

    def lines(self, x_mm: float, y_mm: float, rows: Sequence[str], size: float = 9.5, step: float = 5.0,
              bottom_mm: float = 20.0) -> float:
        for row in rows:
            if y_mm < bottom_mm:
                self.text(x_mm, y_mm, "…", size)
                return y_mm - step
            self.text(x_mm, y_mm, row, size)
            y_mm -= step
        return y_mm


def _summary_page(w: _Writer, c: ReportContent, p: Paper, n_trace_pages: int) -> None:
    ep = c.episode
    w.text(LEFT_MM, 195, "胎心监护报告  CTG report", 18)
    w.text(PAGE_W_MM - LEFT_MM, 195, f"{c.station_id}  {_date(c.made_s)}", 10, right=True)
    patient = [f"姓名 Name: {ep.patient_name or '未建档 not admitted'}",
               f"住院号 Hospital no.: {ep.patient_id or '-'}",
               f"孕周 GA: {ep.ga_weeks}+{ep.ga_days or 0}" if ep.ga_weeks else "孕周 GA: -",
               f"床位 Bed: {ep.bed_id}    监护号 Episode: {ep.episode_id}",
               f"入床 Admitted: {_date(ep.admitted_s)}",
               f"本报告 Segment: {_date(c.start_s)} – {_hhmm(c.end_s)}  ({(c.end_s - c.start_s) / 60:.0f} min)",
               f"走纸 Paper: {p.speed_cm_min} cm/min, 胎心 FHR {p.fhr.low_bpm}-{p.fhr.high_bpm} bpm at "
               f"{p.fhr.bpm_per_cm} bpm/cm, 宫缩 TOCO 0-100 at {p.toco.units_per_cm}/cm; {n_trace_pages} trace pages"]
    w.lines(LEFT_MM, 183, patient, 10.5, 6.0)
    cls = c.classification()
    a = c.analysis
    summary = ["分析 Analysis (advisory; the clinician decides):"]
    if cls is None:
        summary.append("  信号不足，无法分类  too little signal to classify")
    else:
        summary.append(f"  FIGO: {cls['figo']}   NICHD/中国共识: {cls['nichd']}   NST: {cls.get('nst') or '-'}")
        base, var = cls.get("baseline_bpm"), cls.get("variability_bpm")
        summary.append(f"  基线 Baseline: {'-' if base is None else f'{base:.0f} bpm'}   "
                       f"变异 Variability: {'-' if var is None else f'{var:.0f} bpm'}")
        summary += [f"  · {r}" for r in cls.get("reasons", [])[:8]]
    decels: dict[str, int] = {}
    for d in a.get("decelerations", []):
        decels[d.get("type") or "?"] = decels.get(d.get("type") or "?", 0) + 1
    summary.append(f"  加速 Accelerations: {len(a.get('accelerations', []))}   减速 Decelerations: "
                   + (", ".join(f"{k} {v}" for k, v in sorted(decels.items())) or "0")
                   + f"   宫缩 Contractions: {len(a.get('contractions', []))}")
    y = w.lines(LEFT_MM, 137, summary, 10, 5.2, bottom_mm=70)
    y = w.lines(LEFT_MM, min(y - 2, 95), ["报警与确认 Alarms and acknowledgements:"] +
                [f"  {row}" for row in c.alarm_lines[:8]] + (["  无 none"] if not c.alarm_lines else []),
                9.5, 4.6, bottom_mm=40)
    w.lines(PAGE_W_MM / 2 + 10, 95, ["备注/事件 Notes and marks:"] + [f"  {n}" for n in c.note_lines[:8]]
            + (["  无 none"] if not c.note_lines else []), 9.5, 4.6, bottom_mm=40)
    for i, label in enumerate(("监护护士 Nurse", "医师 Physician", "日期 Date")):
        x = LEFT_MM + i * 92
        w.pdf.setLineWidth(0.3)
        w.pdf.line((x + 32) * mm, 22 * mm, (x + 85) * mm, 22 * mm)
        w.text(x, 23, label, 10)
    if c.printed_by:
        w.text(LEFT_MM, 12, f"打印 Printed by: {c.printed_by}", 8.5)


def _strip(pdf: Canvas, p: Paper, start_s: float, end_s: float, y0_mm: float, height_mm: float,
           hlines: Sequence[tuple[float, bool, int]], band: tuple[float, float] | None) -> None:
    if band is not None:
        pdf.setFillColorRGB(*BAND)
        pdf.rect(LEFT_MM * mm, (y0_mm + band[0]) * mm, STRIP_W_MM * mm, (band[1] - band[0]) * mm, stroke=0, fill=1)
    for major_pass in (False, True):  # minor lines first, heavy lines drawn over them
        pdf.setStrokeColorRGB(*(GRID_MAJOR if major_pass else GRID_MINOR))
        pdf.setLineWidth((0.3 if major_pass else 0.1) * mm)
        for x, major in p.time_lines(start_s, end_s):
            if major == major_pass:
                pdf.line((LEFT_MM + x) * mm, y0_mm * mm, (LEFT_MM + x) * mm, (y0_mm + height_mm) * mm)
        for y, major, _ in hlines:
            if major == major_pass:
                pdf.line(LEFT_MM * mm, (y0_mm + y) * mm, (LEFT_MM + STRIP_W_MM) * mm, (y0_mm + y) * mm)
    pdf.setStrokeColorRGB(*GRID_MAJOR)
    pdf.setLineWidth(0.3 * mm)
    pdf.rect(LEFT_MM * mm, y0_mm * mm, STRIP_W_MM * mm, height_mm * mm, stroke=1, fill=0)


def _trace_page(w: _Writer, c: ReportContent, p: Paper, start_s: float, end_s: float, page: int, pages: int) -> None:
    pdf = w.pdf
    ep = c.episode
    fhr_h, toco_h = p.fhr.height_mm, p.toco.height_mm
    fhr_y0 = FHR_TOP_MM - fhr_h
    toco_y0 = fhr_y0 - STRIP_GAP_MM - toco_h
    w.text(LEFT_MM, 197, f"{ep.patient_name or '未建档'}  {ep.patient_id or ''}  {ep.bed_id}  "
                         f"{_date(start_s)} – {_hhmm(end_s)}", 11)
    w.text(PAGE_W_MM - LEFT_MM, 197, f"{page}/{pages}", 10, right=True)
    w.text(LEFT_MM, 188, f"{p.speed_cm_min} cm/min   FHR {p.fhr.bpm_per_cm} bpm/cm   TOCO {p.toco.units_per_cm}/cm"
                         "   1 小格 minor = " + (f"{p.minor_time_s:.0f} s") + "   粗线 heavy = 1 min", 8.5)
    lo, hi = p.fhr_y_mm(NORMAL_BAND_BPM[0]), p.fhr_y_mm(NORMAL_BAND_BPM[1])
    _strip(pdf, p, start_s, end_s, fhr_y0, fhr_h, p.fhr_lines(), (lo, hi))
    _strip(pdf, p, start_s, end_s, toco_y0, toco_h, p.toco_lines(), None)
    for y, major, bpm in p.fhr_lines():
        if major:
            w.text(LEFT_MM - 1.2, fhr_y0 + y - 1.2, str(bpm), 6.5, right=True)
    for y, major, v in p.toco_lines():
        if major:
            w.text(LEFT_MM - 1.2, toco_y0 + y - 1.2, str(v), 6.5, right=True)
    for x, major in p.time_lines(start_s, end_s):
        if major:
            w.text(LEFT_MM + x - 3.5, toco_y0 - 5, _hhmm(start_s + x / p.mm_per_s), 7)
    seg = [s for s in c.samples if start_s <= s.t_s < end_s]
    times = [s.t_s for s in seg]
    for name, colour, y0, ymap in (("mhr_bpm", FHR_COLOURS["mhr_bpm"], fhr_y0, p.fhr_y_mm),
                                   ("fhr2_bpm", FHR_COLOURS["fhr2_bpm"], fhr_y0, p.fhr_y_mm),
                                   ("fhr1_bpm", FHR_COLOURS["fhr1_bpm"], fhr_y0, p.fhr_y_mm),
                                   ("toco", (0.0, 0.0, 0.0), toco_y0, p.toco_y_mm)):
        pdf.setStrokeColorRGB(*colour)
        pdf.setLineWidth(0.25 * mm)
        for run in polylines(times, [getattr(s, name) for s in seg]):
            path = pdf.beginPath()
            t0, v0 = run[0]
            path.moveTo((LEFT_MM + p.x_mm(t0, start_s)) * mm, (y0 + ymap(v0)) * mm)
            for t1, v1 in run[1:]:
                path.lineTo((LEFT_MM + p.x_mm(t1, start_s)) * mm, (y0 + ymap(v1)) * mm)
            if len(run) == 1:  # an isolated sample: a dot, nothing invented around it
                path.lineTo((LEFT_MM + p.x_mm(t0, start_s) + 0.2) * mm, (y0 + ymap(v0)) * mm)
            pdf.drawPath(path, stroke=1, fill=0)
    pdf.setStrokeColorRGB(0, 0, 0)
    pdf.setLineWidth(0.2 * mm)
    for s in seg:
        x = (LEFT_MM + p.x_mm(s.t_s, start_s)) * mm
        if s.movement:
            pdf.line(x, (FHR_TOP_MM + 1) * mm, x, (FHR_TOP_MM + 3) * mm)
        if s.mark:
            pdf.line(x, toco_y0 * mm, x, FHR_TOP_MM * mm)
    w.text(LEFT_MM, 12, "胎动 fetal movement: ticks above the FHR strip;  事件标记 event mark: full-height line;  "
                        "shaded band 110-160 bpm", 7.5)


def render_pdf(content: ReportContent, paper: Paper, font: Path) -> tuple[bytes, int]:
    """(PDF bytes, page count)."""
    name = register_font(font)
    buf = io.BytesIO()
    pdf = Canvas(buf, pagesize=landscape(A4), pageCompression=1)
    pdf.setTitle(f"CTG {content.episode.bed_id} {content.episode.patient_id or content.episode.episode_id}")
    w = _Writer(pdf, name)
    page_s = paper.seconds_for(STRIP_W_MM)
    starts = []
    t = content.start_s
    while t < content.end_s:
        starts.append(t)
        t += page_s
    _summary_page(w, content, paper, len(starts))
    pdf.showPage()
    for i, s in enumerate(starts):
        _trace_page(w, content, paper, s, s + page_s, i + 1, len(starts))
        pdf.showPage()
    pdf.save()
    return buf.getvalue(), 1 + len(starts)
