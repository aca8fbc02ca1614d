"""Run under Xvfb by test_screens: the nurse UI over a simulated ward; screenshots of every screen
in Chinese and English; prints one line 'SHOTS <json>' with files, texts and missing glyphs."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from fetal_monitor_station.ui.app import build_app, configure_kivy
from fetal_monitor_station.ui.fonts import cjk_font

from .glyphs import missing_glyphs
from .ward import HubLink, build_ward

WIDTH, HEIGHT = 1280, 800
READY_TIMEOUT_S = 60
STEP_S = 1.5


def texts_of(root: Any) -> list[str]:
    out = []
    for w in root.walk():
        for attr in ("text", "hint_text"):
            value = getattr(w, attr, None)
            if isinstance(value, str) and value:
                out.append(value)
    return out


def main() -> None:
    tmp, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    configure_kivy(WIDTH, HEIGHT, False)
    ward = build_ward(tmp, hub=HubLink(connected=False, waiting=37))
    ward.sim.monitors[5].port.unplug()  # bed-06: the monitor's USB adapter pulled
    from fetal_monitor_station.idcard.reader import open_reader
    from kiosk.idcard.identity import parse_text_block
    from kiosk.idcard.simulator import start_on_pty, valid_card

    card = start_on_pty([valid_card(21)])  # the kiosk's reader simulator, the device side on a pty
    ward.nurse.card_reader = open_reader(card.port_url)
    font = cjk_font()
    app = build_app(ward.nurse, font, "zh", ward.nurse._clock)
    from kivy.clock import Clock

    holder = parse_text_block(valid_card(21).text)
    report: dict[str, Any] = {"shots": [], "state": {}, "card": {"name": holder.name, "id": holder.id_number,
                                                                  "birth": holder.birth_date.isoformat()}}
    steps: list[Any] = []
    started = time.monotonic()

    def ready() -> bool:
        board = ward.nurse.board
        views = {v.bed_id: v for v in ward.station.views()}
        return any(a.kind == "bradycardia" for a in board.for_bed("bed-04")) and not views["bed-06"].connected

    from kivy.core.window import Window

    pending: list[Path] = []

    def shot(name: str) -> None:
        path = out_dir / f"{name}-{app.lang}.png"
        pending.append(path)
        Window.canvas.ask_update()
        report["shots"].append({"name": name, "lang": app.lang, "path": str(path), "texts": texts_of(app.shell)})

    def capture(*_: Any) -> None:
        """The window's own frame, as the nurse sees it (with the app's multisampling), read before the
        swap: a bound handler runs ahead of the window's flip. (export_to_png renders into an Fbo of
        its own, without the window's MSAA.)"""
        while pending:
            path = pending.pop(0)
            path.unlink(missing_ok=True)
            saved = Window.screenshot(name=str(path))  # Kivy adds a counter: <name>0001.png
            Path(saved).replace(path)

    Window.bind(on_flip=capture)

    def wait_ready(_dt: float) -> None:
        if not ready():
            if time.monotonic() - started > READY_TIMEOUT_S:
                report["error"] = "ward not ready"
                finish()
                return
            Clock.schedule_once(wait_ready, 0.5)
            return
        ep4 = ward.station.book.current("bed-04")
        assert ep4 is not None
        ward.journal.add_note(ep4.episode_id, "bed-04", "N0042", "左侧卧位 吸氧", int((time.time() - 18 * 60) * 1000))
        page = ward.nurse.refresh().page
        report["state"] = {"first_tile": page.tiles[0].bed_id, "first_enlarged": page.tiles[0].enlarged,
                           "states": {t.bed_id: t.state for t in page.tiles}}
        steps.append(lambda: app.open_bed("bed-04"))  # first layout of the detail screen, not shot
        for lang in ("zh", "en"):
            steps.extend([
                lambda lang=lang: (app.lang != lang and app.toggle_language(), app.show("overview")),
                lambda: shot("overview"),
                lambda: (app.open_bed("bed-04"), app.screen("detail").presenter.go_back_s(12 * 60),
                         app.screen("detail").update()),
                lambda: (shot("detail"), report.__setitem__(
                    "detail_notes", [n for _, n in app.screen("detail").ids.paper.frame.notes])),
                lambda: app.show("alarms"),
                lambda: shot("alarms"),
                lambda: (app.show("admit"), _fill_admit(app)),
                lambda: None,  # the card is read on its own thread and handed back through the clock
                lambda: shot("admit"),
                lambda: (app.show("archive"), _search(app, "赵")),
                lambda: shot("archive"),
            ])
        steps.append(finish)
        Clock.schedule_once(run_step, 0.5)

    def run_step(_dt: float) -> None:
        step = steps.pop(0)
        step()
        if steps:  # a few frames (10 fps cap, software GL) for layout passes before the next shot
            Clock.schedule_once(run_step, STEP_S)

    def finish() -> None:
        if pending:
            report["error"] = f"no frame drawn for {[p.name for p in pending]}"
        from kivy.graphics.opengl import GL_SAMPLES, glGetIntegerv

        report["gl_samples"] = int(glGetIntegerv(GL_SAMPLES)[0])  # of the window's real GL context
        texts = [t for s in report["shots"] for t in s["texts"]] + report.get("detail_notes", [])  # notes: canvas
        missing, sane = missing_glyphs(texts, str(font))
        report["missing"] = missing
        report["check_sane"] = sane
        print("SHOTS " + json.dumps(report, ensure_ascii=False), flush=True)
        app.stop()

    Clock.schedule_once(wait_ready, 1.0)
    try:
        app.run()
    finally:
        card.stop()
        ward.stop()


def _fill_admit(app: Any) -> None:
    """The admit form filled from the patient's ID card on the simulated reader, a discharge form of an NST."""
    s = app.screen("admit")
    s.ids.patient_id.text = "H10099"
    s.read_card()  # the "read ID card" button: the simulated reader on its pty, off the UI thread
    s.ids.ga.text = "39+4"
    s.ids.outcome.text = s.outcome_texts[1]  # antenatal NST
    s.ids.record_id.text = "PR2026-0099"
    s.ids.systolic.text, s.ids.diastolic.text, s.ids.weight.text = "118", "76", "68.5"


def _search(app: Any, query: str) -> None:
    s = app.screen("archive")
    s.ids.query.text = query
    s.search()


if __name__ == "__main__":
    main()
