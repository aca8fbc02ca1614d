"""Kivy screens: each lays out its .kv and forwards intents to the NurseStation controller."""

from __future__ import annotations

import threading
import time as _time
from collections.abc import Callable
from typing import Any, TypeVar

from kivy.app import App
from kivy.factory import Factory
from kivy.metrics import dp
from kivy.properties import ListProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen

from fetal_monitor_station.county_records import OUTCOMES, DischargeForm
from fetal_monitor_station.episodes import Episode
from fetal_monitor_station.errors import EpisodeError, StationError
from fetal_monitor_station.idcard.protocol import CardHolder
from fetal_monitor_station.report.paper import PAPER_SPEEDS_CM_MIN
from fetal_monitor_station.ui.controller import Snapshot
from fetal_monitor_station.ui.detail import DetailPresenter
from fetal_monitor_station.ui.kivy_widgets import BedTile, paper_height_mm
from fetal_monitor_station.ui.overview import (
    LAYOUTS,
    MINI_TRACE_S,
    STATE_EMPTY,
    STATE_OFFLINE,
    STATE_UNIDENTIFIED,
    Tile,
    classification_text,
)

ALARM_FRAME_WIDTH = 6.0
T = TypeVar("T")


def off_ui_thread(work: Callable[[], T], done: Callable[[T | None, str | None], None]) -> None:
    """Run a blocking device call (the ID-card reader) on its own thread; `done(result, error)` runs
    on the UI thread through the clock, with the StationError's text when it failed."""
    def run() -> None:
        try:
            result, error = work(), None
        except StationError as exc:
            result, error = None, str(exc)
        from kivy.clock import Clock

        Clock.schedule_once(lambda _dt: done(result, error), 0)

    threading.Thread(target=run, name="device-call", daemon=True).start()


def _app() -> Any:
    return App.get_running_app()


def _v(x: int | None) -> str:
    return "---" if x is None else str(x)


class OverviewScreen(Screen):
    page_text = StringProperty("")
    layout_text = StringProperty("")

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._tiles: dict[str, BedTile] = {}

    def show(self, snap: Snapshot) -> None:
        app = _app()
        t = app.texts
        page = snap.page
        self.page_text = t("page", index=page.index + 1, count=page.count)
        self.layout_text = t("layout", layout=app.controller.overview.layout)
        grid = self.ids.grid
        wanted = {tile.bed_id for tile in page.tiles}
        for w in [w for w in grid.children if w.bed_id not in wanted]:
            grid.remove_widget(w)  # kept in self._tiles: one tile per bed for the life of the screen
        now = app.controller_clock()
        for tile in page.tiles:
            w = self._tiles.get(tile.bed_id)
            if w is None:
                w = self._tiles[tile.bed_id] = BedTile(screen=self)
                w.bind(on_touch_up=self._tapped)
            if w.parent is None:
                grid.add_widget(w)
            self._fill(w, tile, t)
            w.ids.trace.now_s = now
            w.ids.trace.samples = (app.controller.feed.samples(tile.bed_id, None, now - MINI_TRACE_S)
                                   if tile.state != STATE_EMPTY else [])

    def _fill(self, w: BedTile, tile: Tile, t: Any) -> None:
        r = tile.rect
        w.pos_hint = {"x": r.x, "y": r.y}
        w.size_hint = (r.w, r.h)
        w.bed_id = tile.bed_id
        w.enlarged = 1 if tile.enlarged else 0
        w.title = f"{tile.bed_id}  {tile.patient}" + (f"  {t('ga', ga=tile.ga)}" if tile.ga else "")
        w.classification = classification_text(tile.classification, t)
        w.class_colour = list(tile.class_colour)
        if tile.state == STATE_OFFLINE:
            w.status = t("offline_since", since=tile.offline_since)
        elif tile.state == STATE_EMPTY:
            w.status = t("empty")
        elif tile.state == STATE_UNIDENTIFIED:
            w.status = t("unidentified")
        else:
            w.status = ""
        alarms = [a for a in _app().controller.board.for_bed(tile.bed_id) if a.acked_by is None]
        if alarms:
            w.status = "  ".join(t(a.kind) for a in alarms[:2]) + (f"  {w.status}" if w.status else "")
            w.frame_colour = list(alarms[0].colour)
            w.frame_width = ALARM_FRAME_WIDTH
        else:
            w.frame_colour = [0.75, 0.75, 0.75, 1] if tile.state != STATE_OFFLINE else [0.1, 0.8, 0.9, 1]
            w.frame_width = 1.0 if tile.state != STATE_OFFLINE else 3.0
        w.values = (f"{t('fhr1')} {_v(tile.fhr1)}  " + (f"{t('fhr2')} {_v(tile.fhr2)}  " if tile.fhr2 else "")
                    + f"{t('mhr')} {_v(tile.mhr)}  {t('toco')} {_v(tile.toco)}")

    def _tapped(self, tile: BedTile, touch: Any) -> bool:
        if tile.collide_point(*touch.pos):
            _app().open_bed(tile.bed_id)
            return True
        return False

    def next_page(self) -> None:
        _app().controller.overview.next_page()
        _app().refresh()

    def cycle_layout(self) -> None:
        ov = _app().controller.overview
        names = ["auto"] + [f"{r}x{c}" for r, c in LAYOUTS]
        ov.set_layout(names[(names.index(ov.layout) + 1) % len(names)])
        _app().refresh()


class DetailScreen(Screen):
    header = StringProperty("")
    values = StringProperty("")
    viewing = StringProperty("")
    summary = StringProperty("")
    speed_text = StringProperty("")
    scale_text = StringProperty("")

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.presenter: DetailPresenter | None = None
        self._touch_x: float | None = None

    def open(self, episode: Episode) -> None:
        app = _app()
        self.presenter = app.controller.detail(episode)
        name = episode.patient_name or app.texts("unidentified")
        ga = f"  {app.texts('ga', ga=f'{episode.ga_weeks}+{episode.ga_days or 0}')}" if episode.ga_weeks else ""
        self.header = f"{episode.bed_id}  {name}  {episode.patient_id or ''}{ga}"
        self.update()

    def update(self) -> None:
        p = self.presenter
        if p is None:
            return
        t = _app().texts
        paper_w = self.ids.paper
        k = max(paper_w.height, 1.0) / paper_height_mm(p.paper)  # px per paper mm, as CtgPaper draws
        p.width_mm = max(50.0, paper_w.width / k)
        frame = p.frame()
        paper_w.frame = frame
        self.viewing = t("viewing", min=frame.offset_min) if frame.offset_min else ""
        self.speed_text = t("speed", s=p.paper.speed_cm_min)
        self.scale_text = t("scale", scale=f"{p.paper.fhr.low_bpm}-{p.paper.fhr.high_bpm}")
        try:
            v = _app().controller.view_of(p.episode.bed_id)
        except EpisodeError:
            return
        s = v.last if v.episode is not None and v.episode.episode_id == p.episode.episode_id else None
        self.values = "" if s is None else (f"{t('fhr1')} {_v(None if s.fhr1_bpm is None else int(s.fhr1_bpm))}  "
                                            f"{t('toco')} {_v(None if s.toco is None else int(s.toco))}")
        kinds = sorted({t(sp.kind) + (f"({t(sp.type)})" if sp.type else "") for sp in frame.spans})
        self.summary = "  ".join(filter(None, [classification_text(v.classification, t), " ".join(kinds)]))

    def on_touch_down(self, touch: Any) -> bool:
        if self.ids.paper.collide_point(*touch.pos):
            self._touch_x = touch.x
            return True
        return bool(super().on_touch_down(touch))

    def on_touch_move(self, touch: Any) -> bool:
        if self._touch_x is not None and self.presenter is not None:
            self.presenter.drag_mm((touch.x - self._touch_x) / max(self.ids.paper.px_per_mm, 0.1))
            self._touch_x = touch.x
            self.update()
            return True
        return bool(super().on_touch_move(touch))

    def on_touch_up(self, touch: Any) -> bool:
        if self._touch_x is not None:
            self._touch_x = None
            return True
        return bool(super().on_touch_up(touch))

    def cycle_speed(self) -> None:
        if self.presenter is not None:
            speeds = PAPER_SPEEDS_CM_MIN
            self.presenter.set_speed(speeds[(speeds.index(self.presenter.paper.speed_cm_min) + 1) % len(speeds)])
            self.update()

    def toggle_scale(self) -> None:
        if self.presenter is not None:
            self.presenter.set_fhr_scale("30-240" if self.presenter.paper.fhr.low_bpm == 50 else "50-210")
            self.update()

    def return_to_live(self) -> None:
        if self.presenter is not None:
            self.presenter.return_to_live()
            self.update()

    def event_mark(self) -> None:
        if self.presenter is not None:
            _app().run_action(lambda c: c.admission.note(self.presenter.episode.bed_id,  # type: ignore[union-attr]
                                                         _app().texts("mark"), c.nurse_id))

    def print_report(self) -> None:
        if self.presenter is not None:
            f = self.presenter.frame()
            _app().print_report(self.presenter.episode, f.start_s, f.end_s)


class AlarmsScreen(Screen):
    history_title = StringProperty("")
    history_text = StringProperty("")
    bed_id = StringProperty("")
    _shown: Any = None

    def show(self, snap: Snapshot) -> None:
        app = _app()
        t = app.texts
        board = app.controller.board
        shown = (app.lang, board.clinical(), board.technical(), self.bed_id)
        if shown == self._shown:
            return  # rebuild rows only when something changed
        self._shown = shown
        for box_id, alarms in (("clinical", board.clinical()), ("technical", board.technical())):
            box = self.ids[box_id]
            box.clear_widgets()
            for a in alarms[:8]:
                state = (t("acked_by", nurse=a.acked_by) if a.acked_by else t("resolved") if a.latched else "")
                esc = f"  {t('escalated')}" if a.escalated_at_s else ""
                row = Factory.AlarmRow(text=f"{a.bed_id}  {t(a.kind)}  [{t(f'priority_{a.priority}')}]"
                                            f"  {_time.strftime('%H:%M:%S', _time.localtime(a.raised_at_s))}"
                                            f"{esc}  {state}", colour=list(a.colour), alarm_id=a.alarm_id,
                                       can_ack=a.acked_by is None)
                row.bind(on_touch_up=self._pick)
                box.add_widget(row)
            if not alarms:
                box.add_widget(Label(text=t("no_alarms"), color=(0.3, 0.3, 0.3, 1), font_size="19sp",
                                     size_hint_y=None, height=dp(50)))
            box.add_widget(Label())
        bed = self.bed_id or next((a.bed_id for a in board.clinical() + board.technical()), "")
        self.history_title = f"{t('history')}  {bed}"
        rows = [f"{_time.strftime('%H:%M:%S', _time.localtime(h.at_s))}  {t(h.kind)}  "
                f"{t('silenced_ev' if h.event == 'silenced' else h.event)}" + (f"  {h.nurse_id}" if h.nurse_id else "")
                for h in reversed(board.history(bed))] if bed else []
        self.history_text = "\n".join(rows[:20])

    def _pick(self, row: Any, touch: Any) -> bool:
        if row.collide_point(*touch.pos):
            alarm = _app().controller.board.get(row.alarm_id)
            if alarm is not None:
                self.bed_id = alarm.bed_id
        return False


class AdmitScreen(Screen):
    bed_ids = ListProperty([])
    outcome_texts = ListProperty([])
    card_text = StringProperty("")
    _shown: Any = None
    _card: CardHolder | None = None  # the patient card read for this form (cleared when the name is edited)

    def show(self, snap: Snapshot) -> None:
        app = _app()
        self.bed_ids = [v.bed_id for v in snap.views]
        texts = [app.texts(f"outcome_{o}") for o in OUTCOMES]
        if texts != self.outcome_texts:
            index = self.outcome_texts.index(self.ids.outcome.text) if self.ids.outcome.text in self.outcome_texts \
                else len(OUTCOMES) - 1
            self.outcome_texts = texts
            self.ids.outcome.text = texts[index]
        self._show_card()
        unassigned = app.controller.admission.unassigned()[-5:]
        shown = (app.lang, [u.episode for u in unassigned], int(app.controller_clock() / 60))
        if shown == self._shown:
            return
        self._shown = shown
        box = self.ids.unassigned
        box.clear_widgets()
        now = app.controller_clock()
        for u in unassigned:
            ep = u.episode
            row = BoxLayout(orientation="vertical", size_hint_y=None, height=dp(104), spacing=dp(2))
            row.add_widget(Label(text=app.texts("unassigned_row", bed=ep.bed_id, start=_time.strftime(
                "%H:%M", _time.localtime(ep.admitted_s)), age=int((now - ep.admitted_s) / 60)),
                color=(0, 0, 0, 1), font_size="18sp"))
            b = Button(text=app.texts("do_assign"), font_size="18sp", size_hint_y=None, height=dp(56))
            b.bind(on_release=lambda _b, e=ep: self.assign(e))
            row.add_widget(b)
            box.add_widget(row)
        box.add_widget(Label())

    # -- the patient's ID card: read off the UI thread, the form filled on it ---------------
    def read_card(self) -> None:
        app = _app()
        app.message = app.texts("reading_card")
        off_ui_thread(app.controller.read_card, self.card_done)

    def card_done(self, holder: CardHolder | None, error: str | None) -> None:
        app = _app()
        if holder is None:
            app.message = app.texts("error", msg=error or "")
            return
        self._card = None
        self.ids.patient_name.text = holder.name
        self._card = holder  # after the name: editing the name by hand drops the card
        app.message = ""
        self._show_card()

    def name_edited(self, text: str) -> None:
        if self._card is not None and text != self._card.name:
            self._card = None
            self._show_card()

    def _show_card(self) -> None:
        c = self._card
        self.card_text = "" if c is None else _app().texts("card_line", id=c.masked_id, birth=c.birth.isoformat())

    def _form(self) -> tuple[str, str, str]:
        return self.ids.patient_id.text, self.ids.patient_name.text, self.ids.ga.text

    def admit(self) -> None:
        pid, name, ga = self._form()
        card = None if self._card is None else self._card.masked_id
        if _app().run_action(lambda c: c.admission.admit(self.ids.bed.text, pid, name, ga, c.nurse_id,
                                                         id_card=card)) is not None:
            self._card = None
            self._show_card()

    def discharge_form(self) -> DischargeForm:
        i = self.outcome_texts.index(self.ids.outcome.text) if self.ids.outcome.text in self.outcome_texts \
            else len(OUTCOMES) - 1
        return DischargeForm(OUTCOMES[i], self.ids.record_id.text, self.ids.delivery_date.text,
                             self.ids.live_births.text, bool(self.ids.in_facility.active), self.ids.systolic.text,
                             self.ids.diastolic.text, self.ids.weight.text)

    def discharge(self) -> None:
        form = self.discharge_form()
        _app().run_action(lambda c: c.admission.discharge(self.ids.bed.text, c.nurse_id, form))

    def transfer(self) -> None:
        _app().run_action(lambda c: c.admission.transfer(self.ids.bed.text, self.ids.to_bed.text, c.nurse_id))

    def note(self) -> None:
        _app().run_action(lambda c: c.admission.note(self.ids.bed.text, self.ids.note.text, c.nurse_id))

    def assign(self, episode: Episode) -> None:
        pid, name, ga = self._form()
        _app().run_action(lambda c: c.admission.assign(episode.episode_id, pid, name, ga, c.nurse_id))


class ArchiveScreen(Screen):
    def show(self, snap: Snapshot) -> None:
        pass  # results change only on search

    def search(self) -> None:
        app = _app()
        box = self.ids.results
        box.clear_widgets()
        hits = app.controller.search(self.ids.query.text)
        for ep in hits[:10]:
            row = BoxLayout(size_hint_y=None, height=dp(60), spacing=dp(6))
            end = "" if ep.discharged_ms is None else _time.strftime("%m-%d %H:%M",
                                                                     _time.localtime(ep.discharged_ms / 1000))
            row.add_widget(Label(text=f"{ep.patient_id}  {ep.patient_name}  {ep.bed_id}  "
                                      f"{_time.strftime('%m-%d %H:%M', _time.localtime(ep.admitted_s))} – {end}",
                                 color=(0, 0, 0, 1), font_size="19sp"))
            for key, action in (("replay", lambda _b, e=ep: app.open_episode(e)),
                                ("print", lambda _b, e=ep: app.print_episode(e))):
                b = Button(text=app.texts(key), font_size="19sp", size_hint_x=None, width=dp(170))
                b.bind(on_release=action)
                row.add_widget(b)
            box.add_widget(row)
        if not hits:
            box.add_widget(Label(text=app.texts("no_results"), color=(0.3, 0.3, 0.3, 1), font_size="19sp",
                                 size_hint_y=None, height=dp(50)))
        box.add_widget(Label())
