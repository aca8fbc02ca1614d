"""Kivy widgets that draw what the presenters computed: CTG paper, tile mini-traces, bed tiles.

No rules here: geometry comes from `report.paper` / `DetailFrame`, values from `Tile`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, Line, Rectangle
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from fetal_monitor_station.report.paper import NORMAL_BAND_BPM, Paper, decimate, paper, polylines
from fetal_monitor_station.trace import CtgSample
from fetal_monitor_station.ui.detail import DetailFrame

PAPER_BG = (1.0, 0.98, 0.95, 1)
GRID_MINOR = (0.93, 0.72, 0.72, 1)
GRID_MAJOR = (0.8, 0.45, 0.45, 1)
BAND = (0.86, 0.95, 0.86, 1)
FHR1_COLOUR = (0.05, 0.1, 0.35, 1)
FHR2_COLOUR = (0.0, 0.5, 0.2, 1)
MHR_COLOUR = (0.65, 0.1, 0.55, 1)
TOCO_COLOUR = (0.1, 0.1, 0.1, 1)
BASELINE_COLOUR = (0.95, 0.45, 0.0, 1)
SPAN_COLOURS = {"acceleration": (0.2, 0.7, 0.3, 0.25), "deceleration": (0.9, 0.2, 0.2, 0.25),
                "contraction": (0.2, 0.4, 0.9, 0.18)}
STRIP_GAP_MM = 8.0
LABEL_MM = 6.0


def paper_height_mm(p: Paper) -> float:
    return p.fhr.height_mm + STRIP_GAP_MM + p.toco.height_mm + LABEL_MM


class CtgPaper(Widget):
    """The bed-detail paper. Set `frame`; `px_per_mm` tells the screen how wide the paper is."""

    frame = ObjectProperty(None, allownone=True)
    px_per_mm = NumericProperty(3.0)
    _textures: dict[str, object] = {}  # "hh:mm" and note texts -> rendered texture (shared, bounded)

    def on_frame(self, *_: object) -> None:
        self.redraw()

    def on_size(self, *_: object) -> None:
        self.redraw()

    def redraw(self) -> None:
        f: DetailFrame | None = self.frame
        self.canvas.clear()
        if f is None:
            return
        p = f.paper
        k = self.px_per_mm = self.height / paper_height_mm(p)
        x0, y_toco = self.x, self.y + LABEL_MM * k
        y_fhr = y_toco + (p.toco.height_mm + STRIP_GAP_MM) * k
        w = f.width_mm * k
        with self.canvas:
            Color(*PAPER_BG)
            Rectangle(pos=self.pos, size=self.size)
            Color(*BAND)
            lo, hi = p.fhr_y_mm(NORMAL_BAND_BPM[0]), p.fhr_y_mm(NORMAL_BAND_BPM[1])
            Rectangle(pos=(x0, y_fhr + lo * k), size=(w, (hi - lo) * k))
            for span in f.spans:
                Color(*SPAN_COLOURS.get(span.kind, (0.5, 0.5, 0.5, 0.2)))
                if span.kind == "contraction":
                    Rectangle(pos=(x0 + span.x0_mm * k, y_toco), size=((span.x1_mm - span.x0_mm) * k,
                                                                        p.toco.height_mm * k))
                else:
                    Rectangle(pos=(x0 + span.x0_mm * k, y_fhr), size=((span.x1_mm - span.x0_mm) * k,
                                                                       p.fhr.height_mm * k))
            for base, height, lines in ((y_fhr, p.fhr.height_mm, f.fhr_lines), (y_toco, p.toco.height_mm,
                                                                                f.toco_lines)):
                for y_mm, major, _ in lines:
                    Color(*(GRID_MAJOR if major else GRID_MINOR))
                    Line(points=[x0, base + y_mm * k, x0 + w, base + y_mm * k], width=1.2 if major else 1.0)
                for x_mm, major in f.time_lines:
                    Color(*(GRID_MAJOR if major else GRID_MINOR))
                    Line(points=[x0 + x_mm * k, base, x0 + x_mm * k, base + height * k],
                         width=1.2 if major else 1.0)
            for runs, colour, base, width in ((f.baseline, BASELINE_COLOUR, y_fhr, 1.4),
                                              (f.mhr, MHR_COLOUR, y_fhr, 1.2), (f.fhr2, FHR2_COLOUR, y_fhr, 1.3),
                                              (f.fhr1, FHR1_COLOUR, y_fhr, 1.5), (f.toco, TOCO_COLOUR, y_toco, 1.3)):
                Color(*colour)
                _draw_runs(runs, x0, base, k, width)
            Color(*FHR1_COLOUR)
            top = y_fhr + p.fhr.height_mm * k
            for x_mm in f.movement_mm:  # fetal movement: ticks above the FHR strip
                Line(points=[x0 + x_mm * k, top + 1, x0 + x_mm * k, top + 2.5 * k], width=1.2)
            Color(0.1, 0.1, 0.1, 1)
            for x_mm in f.event_mm:  # event marks: a full-height line
                Line(points=[x0 + x_mm * k, y_toco, x0 + x_mm * k, top], width=1.0, dash_length=4, dash_offset=3)
            for x_mm, text in f.notes:  # nurses' notes and marks: a blue line and the note's first words
                Color(0.1, 0.3, 0.8, 1)
                Line(points=[x0 + x_mm * k, y_toco, x0 + x_mm * k, top], width=1.3)
                tex = _texture(text[:24])
                Rectangle(texture=tex, pos=(x0 + x_mm * k + 3, top - tex.size[1] - 2), size=tex.size)
            Color(0.1, 0.1, 0.1, 1)
            for x_mm, text in f.minute_labels:  # clock time under each heavy minute line
                tex = _texture(text)
                Rectangle(texture=tex, pos=(x0 + x_mm * k - tex.size[0] / 2, self.y + 1), size=tex.size)


TEXTURE_CACHE_MAX = 512


def _texture(text: str) -> Any:
    cache = CtgPaper._textures
    tex = cache.get(text)
    if tex is None:
        if len(cache) >= TEXTURE_CACHE_MAX:
            cache.clear()
        label = CoreLabel(text=text, font_size=14)
        label.refresh()
        tex = cache[text] = label.texture
    return tex


def _draw_runs(runs: Sequence[Sequence[tuple[float, float]]], x0: float, y0: float, k: float, width: float) -> None:
    for run in runs:
        if len(run) == 1:
            (x, y), = run
            Line(points=[x0 + x * k - 1, y0 + y * k, x0 + x * k + 1, y0 + y * k], width=width)
            continue
        pts: list[float] = []
        for x, y in run:
            pts += (x0 + x * k, y0 + y * k)
        Line(points=pts, width=width)


class MiniTrace(Widget):
    """A tile's last minutes: FHR(s) and MHR on 50-210 in the upper part, TOCO below."""

    samples = ListProperty([])
    window_s = NumericProperty(600.0)
    now_s = NumericProperty(0.0)
    _paper = paper(1)

    def on_samples(self, *_: object) -> None:
        self.redraw()

    def on_size(self, *_: object) -> None:
        self.redraw()

    def redraw(self) -> None:
        self.canvas.clear()
        samples: list[CtgSample] = self.samples
        p = self._paper
        h_fhr, h_toco = self.height * 0.66, self.height * 0.28
        y_toco = self.y
        y_fhr = self.y + self.height - h_fhr
        start = self.now_s - self.window_s
        sx = self.width / self.window_s
        times = [s.t_s for s in samples]
        step = max(1, int(len(samples) / max(self.width, 1.0)))  # about one point per pixel
        with self.canvas:  # on the tile's white: no background of its own (each pixel painted once)
            Color(*BAND)
            lo, hi = (p.fhr_y_mm(b) / p.fhr.height_mm for b in NORMAL_BAND_BPM)
            Rectangle(pos=(self.x, y_fhr + lo * h_fhr), size=(self.width, (hi - lo) * h_fhr))
            for name, colour, base, scale in (
                    ("mhr_bpm", MHR_COLOUR, y_fhr, lambda v: p.fhr_y_mm(v) / p.fhr.height_mm * h_fhr),
                    ("fhr2_bpm", FHR2_COLOUR, y_fhr, lambda v: p.fhr_y_mm(v) / p.fhr.height_mm * h_fhr),
                    ("fhr1_bpm", FHR1_COLOUR, y_fhr, lambda v: p.fhr_y_mm(v) / p.fhr.height_mm * h_fhr),
                    ("toco", TOCO_COLOUR, y_toco, lambda v: p.toco_y_mm(v) / p.toco.height_mm * h_toco)):
                Color(*colour)
                for run in polylines(times, [getattr(s, name) for s in samples]):
                    pts: list[float] = []
                    for t, v in decimate(run, step):
                        pts += (self.x + (t - start) * sx, base + scale(v))
                    if len(pts) >= 4:
                        Line(points=pts, width=1.0)  # 1 px: Kivy's GL line strip, no triangulation


class BedTile(BoxLayout):
    """One bed on the overview; every property is set from a `Tile` by the overview screen."""

    bed_id = StringProperty("")
    title = StringProperty("")
    status = StringProperty("")
    values = StringProperty("")
    classification = StringProperty("")
    class_colour = ListProperty([0.5, 0.5, 0.5, 1])
    frame_colour = ListProperty([0.75, 0.75, 0.75, 1])
    frame_width = NumericProperty(1.0)
    enlarged = NumericProperty(0)
    screen = ObjectProperty(None, allownone=True)


class AlarmRow(BoxLayout):
    """One alarm on the alarms screen."""

    text = StringProperty("")
    colour = ListProperty([1, 1, 1, 1])
    alarm_id = StringProperty("")
    can_ack = BooleanProperty(True)
