"""Overview grid: which beds are on which page, where each tile goes, and what it shows.

Layouts are the ones Chinese central stations offer (1x2 ... 4x4). `auto` picks the smallest
that shows every bed, up to 4x4, then pages, turning the page by itself every `auto_page_s`
while no bed is in alarm (a bed in alarm is always on the first page). Beds with an unacknowledged alarm move to the
front (highest priority first); the first of them is enlarged to 2x2 cells when the grid has
room. An empty bed reads as empty; a monitor that went away stays as "offline since hh:mm".
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fetal_monitor_station.station import BedView
from fetal_monitor_station.trace import CtgSample

LAYOUTS: tuple[tuple[int, int], ...] = ((1, 2), (2, 2), (3, 2), (3, 3), (4, 2), (4, 3), (4, 4))  # (rows, cols)
AUTO_ORDER = ((1, 2), (2, 2), (3, 2), (3, 3), (4, 3), (4, 4))
AUTO_PAGE_S = 15.0
FRESH_S = 5.0  # a value older than this is not shown as current
MINI_TRACE_S = 10 * 60  # what a tile draws

STATE_EMPTY = "empty"  # no monitor signal and nobody admitted
STATE_MONITORING = "monitoring"
STATE_UNIDENTIFIED = "unidentified"  # signal without an admitted patient
STATE_OFFLINE = "offline"

CLASS_COLOURS = {"normal": (0.18, 0.62, 0.27, 1.0), "suspicious": (0.95, 0.6, 0.1, 1.0),
                 "pathological": (0.86, 0.1, 0.1, 1.0), "": (0.5, 0.5, 0.5, 1.0)}


@dataclass(frozen=True)
class Rect:
    """Fractions of the grid area, origin bottom-left (Kivy's convention)."""

    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class Tile:
    bed_id: str
    state: str
    rect: Rect
    enlarged: bool
    patient: str  # masked name + hospital number, or ""
    ga: str  # "38+2" or ""
    fhr1: int | None
    fhr2: int | None
    mhr: int | None
    toco: int | None
    classification: str
    class_colour: tuple[float, float, float, float]
    alarm_priority: int  # 0 none, 1..3
    offline_since: str  # "hh:mm" when offline


@dataclass(frozen=True)
class Page:
    index: int
    count: int
    rows: int
    cols: int
    tiles: tuple[Tile, ...]


def mask_name(name: str) -> str:
    """张*华 style masking for a shared screen (full name only on the detail view)."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def choose_layout(n_beds: int, layout: str = "auto") -> tuple[int, int]:
    if layout != "auto":
        r, _, c = layout.partition("x")
        if not (r.isdigit() and c.isdigit()) or (int(r), int(c)) not in LAYOUTS:
            raise ValueError(f"layout {layout!r}: want auto or one of {[f'{a}x{b}' for a, b in LAYOUTS]}")
        return int(r), int(c)
    for rows, cols in AUTO_ORDER:
        if rows * cols >= n_beds:
            return rows, cols
    return AUTO_ORDER[-1]


def classification_colour(label: str) -> tuple[float, float, float, float]:
    lower = label.lower()
    for key in ("pathological", "suspicious", "normal"):
        if key in lower:
            return CLASS_COLOURS[key]
    return CLASS_COLOURS[""]


# words of the engine's label "FIGO <class> / NICHD <category>" -> screen text keys (ui/i18n.py)
CLASS_WORD_KEYS = {"normal": "figo_normal", "suspicious": "figo_suspicious", "pathological": "figo_pathological",
                   "indeterminate": "class_indeterminate", "I": "nichd_1", "II": "nichd_2", "III": "nichd_3"}


def classification_text(label: str, t: Callable[[str], str]) -> str:
    """The engine's classification label in the screen's language (standards' names kept)."""
    return " ".join(t(CLASS_WORD_KEYS[w]) if w in CLASS_WORD_KEYS else w for w in label.split(" "))


def place(rows: int, cols: int, n: int, enlarge_first: bool) -> list[tuple[Rect, bool]]:
    """Cell rectangles for n tiles in reading order; the first takes 2x2 cells if enlarged."""
    cw, ch = 1.0 / cols, 1.0 / rows
    taken = [[False] * cols for _ in range(rows)]
    out: list[tuple[Rect, bool]] = []
    big = enlarge_first and rows >= 2 and cols >= 2 and n > 0
    if big:
        for r in (0, 1):
            for c in (0, 1):
                taken[r][c] = True
        out.append((Rect(0.0, 1.0 - 2 * ch, 2 * cw, 2 * ch), True))
    for r in range(rows):
        for c in range(cols):
            if len(out) >= n:
                return out
            if not taken[r][c]:
                out.append((Rect(c * cw, 1.0 - (r + 1) * ch, cw, ch), False))
    return out


def capacity(rows: int, cols: int, enlarged: bool) -> int:
    return rows * cols - (3 if enlarged and rows >= 2 and cols >= 2 else 0)


def _value(v: float | None) -> int | None:
    return None if v is None else int(round(v))


class OverviewPresenter:
    def __init__(self, alarm_priority: Callable[[str], int], clock: Callable[[], float] = _time.time,
                 layout: str = "auto", mask_names: bool = True, auto_page_s: float | None = AUTO_PAGE_S) -> None:
        self._alarm_priority = alarm_priority
        self._clock = clock
        self.auto_page_s = auto_page_s
        self._page_shown_at = clock()
        self.layout = layout
        choose_layout(1, layout)
        self.mask_names = mask_names
        self.page_index = 0
        self._offline_since: dict[str, float] = {}

    def set_layout(self, layout: str) -> None:
        choose_layout(1, layout)
        self.layout = layout
        self.page_index = 0

    def next_page(self) -> None:
        self.page_index += 1  # wrapped in page()
        self._page_shown_at = self._clock()

    def previous_page(self) -> None:
        self.page_index -= 1
        self._page_shown_at = self._clock()

    def _state(self, v: BedView, now: float) -> tuple[str, str]:
        if not v.connected:
            since = self._offline_since.get(v.bed_id)
            if since is None:
                age = v.quality.last_data_age_s
                since = self._offline_since[v.bed_id] = now - (age if age is not None else 0.0)
            return STATE_OFFLINE, _time.strftime("%H:%M", _time.localtime(since))
        self._offline_since.pop(v.bed_id, None)
        if v.episode is None:
            return STATE_EMPTY, ""
        return (STATE_MONITORING if v.episode.identified else STATE_UNIDENTIFIED), ""

    def page(self, views: Sequence[BedView]) -> Page:
        now = self._clock()
        prio = {v.bed_id: self._alarm_priority(v.bed_id) for v in views}
        alarming = sorted((v for v in views if prio[v.bed_id]), key=lambda v: -prio[v.bed_id])
        ordered = alarming + [v for v in views if not prio[v.bed_id]]
        enlarge = bool(alarming) and len(views) > 1
        rows, cols = choose_layout(len(views) + (3 if enlarge else 0), self.layout)
        first_cap = capacity(rows, cols, enlarge)
        rest_cap = rows * cols
        n_pages = 1 if len(ordered) <= first_cap else 1 + math.ceil((len(ordered) - first_cap) / rest_cap)
        if alarming and self.page_index != 0 and now - self._page_shown_at >= (self.auto_page_s or 0.0):
            self.page_index, self._page_shown_at = 0, now  # back to the bed in alarm
        elif not alarming and self.auto_page_s and n_pages > 1 and now - self._page_shown_at >= self.auto_page_s:
            self.page_index, self._page_shown_at = self.page_index + 1, now
        self.page_index %= n_pages
        if self.page_index == 0:
            chunk, big = ordered[:first_cap], enlarge
        else:
            a = first_cap + (self.page_index - 1) * rest_cap
            chunk, big = ordered[a:a + rest_cap], False
        tiles = tuple(self._tile(v, rect, enlarged, prio[v.bed_id], now)
                      for v, (rect, enlarged) in zip(chunk, place(rows, cols, len(chunk), big), strict=True))
        return Page(self.page_index, n_pages, rows, cols, tiles)

    def _tile(self, v: BedView, rect: Rect, enlarged: bool, priority: int, now: float) -> Tile:
        state, since = self._state(v, now)
        ep = v.episode
        s: CtgSample | None = v.last if v.last is not None and now - v.last.t_s <= FRESH_S else None
        if state == STATE_OFFLINE:
            s = None
        patient, ga = "", ""
        if ep is not None and ep.identified:
            name = ep.patient_name or ""
            patient = f"{mask_name(name) if self.mask_names else name} {ep.patient_id}"
            if ep.ga_weeks is not None:
                ga = f"{ep.ga_weeks}+{ep.ga_days or 0}"
        return Tile(v.bed_id, state, rect, enlarged, patient, ga,
                    _value(s.fhr1_bpm) if s else None, _value(s.fhr2_bpm) if s else None,
                    _value(s.mhr_bpm) if s else None, _value(s.toco) if s else None,
                    v.classification, classification_colour(v.classification), priority, since)
