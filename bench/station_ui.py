"""Nurse-UI bench: 32 beds on the overview redrawing at 4 Hz, and memory over 8 accelerated hours.

1. CPU. A simulator process writes 32 Corometrics streams at real time on ptys. First the engine
   alone (`mch-station run --no-view`, analysis and alarms on) is measured as the baseline; then
   the same engine with the Kivy nurse screen in one process (this module's `--child-ui`, under
   Xvfb: the overview pages through all 32 beds, refreshing at 4 Hz). CPU seconds per wall
   second from /proc over a window after warm-up; `ui_over_engine` is the ratio of the two.
2. Memory. One process with the nurse screen fed 8 hours of CTG for 32 beds as fast as it goes
   through the station's listener hook (plus alarms raised, latched and acknowledged), the screen
   refreshed and rendered every minute of CTG time; RSS after the first hour vs after eight.

    python -m bench.station_ui [--beds 32] [--window 30] [--hours 8] [--multisamples N]

`--multisamples 2` renders as Kivy's default did before fetal_monitor_station/ui/rendering.py (the
baseline of an A/B pair); `--hours 0` leaves out the memory run (CPU pairs only, no rss_* figures).

Needs Xvfb (starts its own on a free display) and a CJK font; exits non-zero with a message
when it cannot measure. Ends with one RESULT line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.station_beds import WARMUP_S, cpu_s, measure, rss_mb, start_simulator, write_config
from central_hub.launcher import terminate
from fetal_monitor_station.ui.rendering import MULTISAMPLES

REFRESH_HZ = 4


@contextmanager
def xvfb() -> Iterator[str]:
    read_fd, write_fd = os.pipe()
    try:
        proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten",
                                 "tcp"], pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except FileNotFoundError:
        raise SystemExit("station_ui: Xvfb is not installed (apt: xvfb)") from None
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number.isdigit():
            raise SystemExit("station_ui: Xvfb did not start")
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(10)


def child_env(display: str, tmp: Path) -> dict[str, str]:
    return {**os.environ, "DISPLAY": display, "KIVY_HOME": str(tmp / "kivy"), "KIVY_NO_ARGS": "1",
            "KIVY_NO_FILELOG": "1", "KIVY_NO_CONSOLELOG": "1"}


# -- child processes --------------------------------------------------------------------------
def _counting(nurse: Any) -> dict[str, list[float]]:
    """Note when each refresh ran (CLOCK_MONOTONIC is system-wide: the parent compares windows)."""
    counts: dict[str, list[float]] = {"refresh_at": []}
    refresh = nurse.refresh

    def counted() -> Any:
        counts["refresh_at"].append(time.monotonic())
        return refresh()

    nurse.refresh = counted
    return counts


def child_ui(config: Path, seconds: float, multisamples: int) -> None:
    """The engine and the nurse screen in this process, as `mch-station ui` runs them."""
    from fetal_monitor_station.config import load_config
    from fetal_monitor_station.nurse_journal import NurseJournal
    from fetal_monitor_station.runtime import build_station
    from fetal_monitor_station.ui.app import build_app, configure_kivy
    from fetal_monitor_station.ui.controller import NurseStation
    from fetal_monitor_station.ui.fonts import cjk_font
    from fetal_monitor_station.ui.run import journal_path

    cfg = load_config(config)
    station, _ = build_station(cfg)
    nurse = NurseStation(station, NurseJournal(journal_path(cfg.archive)), station_id=cfg.station_id)
    nurse.overview.auto_page_s = 5.0  # both pages of 16 drawn during the window
    counts = _counting(nurse)
    configure_kivy(1280, 800, False, multisamples)
    app = build_app(nurse, cjk_font(), "zh")
    from kivy.clock import Clock
    from kivy.graphics.opengl import GL_SAMPLES, glGetIntegerv

    gl_samples = -1

    def read_samples(_dt: float) -> None:  # what the driver gave (llvmpipe rounds 2 up to 4)
        nonlocal gl_samples
        gl_samples = int(glGetIntegerv(GL_SAMPLES)[0])

    station.start()
    Clock.schedule_once(read_samples, 1.0)
    Clock.schedule_once(lambda _dt: app.stop(), seconds)
    try:
        app.run()
    finally:
        station.stop()
    print("CHILD " + json.dumps({**counts, "frames": Clock.frames_displayed, "pages": nurse.overview.page_index,
                                 "gl_samples": gl_samples}), flush=True)


class _NullLink:
    """Takes records and drops them: the memory run is about the UI, not the outbox."""

    def submit(self, kind: Any, schema: str, body: dict[str, Any], made_at_ms: int | None = None) -> int:
        return 0


def child_memory(tmp: Path, beds: int, hours: float, multisamples: int) -> None:
    """The nurse screen's own state over `hours` of CTG: every sample of every bed goes through the
    station's listener hook into the UI feed (the engine's per-sample cost is bench.station_beds'),
    one sample a minute through the engine so the tiles' values move, an alarm raised, latched and
    acknowledged every ten minutes, the screen refreshed and rendered every minute of CTG."""
    from fetal_monitor_station.archive.store import Archive
    from fetal_monitor_station.config import BedConfig
    from fetal_monitor_station.episodes import Patient
    from fetal_monitor_station.interfaces import AlarmChange
    from fetal_monitor_station.nurse_journal import NurseJournal
    from fetal_monitor_station.publisher import Publisher
    from fetal_monitor_station.simulator.sources import synthetic_sources
    from fetal_monitor_station.station import Station
    from fetal_monitor_station.trace import CtgSample
    from fetal_monitor_station.ui.app import build_app, configure_kivy
    from fetal_monitor_station.ui.controller import NurseStation
    from fetal_monitor_station.ui.fonts import cjk_font

    clock = [time.time() - hours * 3600]
    traces = {b: list(src) for b, src in synthetic_sources(beds, seed=3, duration_s=3600.0)}
    station = Station([BedConfig(b, f"/nonexistent/{b}") for b in traces], Archive(tmp / "mem.sqlite3"),
                      Publisher(_NullLink()), clock=lambda: clock[0])
    episodes = {b: station.admit(b, Patient(f"H{i:05d}", "测试", 39, 0)).episode_id for i, b in enumerate(traces)}
    nurse = NurseStation(station, NurseJournal(tmp / "mem-nurse.sqlite3"), clock=lambda: clock[0])
    configure_kivy(1280, 800, False, multisamples)
    app = build_app(nurse, cjk_font(), "zh", clock=lambda: clock[0])
    from kivy.clock import Clock

    step_s, total = 60.0, int(hours * 3600 / 60.0)
    per_step = int(step_s * REFRESH_HZ)
    state: dict[str, Any] = {"i": 0, "rss": [], "alarms": 0}
    t0 = clock[0]
    listener = nurse.feed.listener

    def alarms(i: int) -> None:
        bed = list(traces)[i // 10 % len(traces)]
        alarm_id = f"bench-{i // 10}"
        if i % 10 == 0:
            listener(bed, episodes[bed], AlarmChange(alarm_id, "bradycardia", "raised", "medium", "bench"))
        elif i % 10 == 1:
            listener(bed, episodes[bed], AlarmChange(alarm_id, "bradycardia", "cleared", "medium", "bench"))
        elif i % 10 == 2 and nurse.board.get(alarm_id) is not None:
            nurse.board.acknowledge(alarm_id, "N0001")
            state["alarms"] += 1

    def feed(_dt: float) -> None:
        i = state["i"]
        for bed_id, trace in traces.items():
            ep = episodes[bed_id]
            for k in range(per_step):
                n = i * per_step + k
                s = trace[n % len(trace)]
                listener(bed_id, ep, CtgSample(t0 + n / REFRESH_HZ, s.fhr1_bpm, s.fhr2_bpm, s.mhr_bpm, s.toco,
                                               s.movement, s.mark))
            with station.lock:
                station.process(bed_id, CtgSample(t0 + (i * per_step + per_step - 1) / REFRESH_HZ, s.fhr1_bpm,
                                                  s.fhr2_bpm, s.mhr_bpm, s.toco))
        with station.lock:
            station.tick()  # what the worker does every second: commit the archive, flush batches
        alarms(i)
        clock[0] = t0 + (i + 1) * step_s
        app.refresh()
        if (i + 1) % int(3600 / step_s) == 0:
            state["rss"].append(rss_mb(os.getpid()))
        state["i"] = i + 1
        if state["i"] >= total:
            app.stop()
        else:
            Clock.schedule_once(feed, 0)

    Clock.schedule_once(feed, 0.5)
    app.run()
    print("CHILD " + json.dumps({"rss_per_hour_mb": state["rss"], "samples": total * per_step * len(traces),
                                 "alarms_acknowledged": state["alarms"]}), flush=True)


# -- parent ---------------------------------------------------------------------------------------
def _child_result(proc: subprocess.CompletedProcess[str] | subprocess.Popen[str], out: str) -> dict[str, Any]:
    lines = [line for line in out.splitlines() if line.startswith("CHILD ")]
    if not lines:
        raise SystemExit(f"station_ui: child failed ({proc.returncode}); is a CJK font installed?")
    return dict(json.loads(lines[-1][len("CHILD "):]))


def measure_ui(config: Path, window_s: float, display: str, tmp: Path, multisamples: int) -> dict[str, Any]:
    seconds = WARMUP_S + window_s + 5.0
    proc = subprocess.Popen([sys.executable, "-m", "bench.station_ui", "--child-ui", str(config), "--seconds",
                             str(seconds), "--multisamples", str(multisamples)], env=child_env(display, tmp),
                            stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(WARMUP_S)
        if proc.poll() is not None:
            raise SystemExit(f"station_ui: the UI exited early ({proc.returncode})")
        c0, t0 = cpu_s(proc.pid), time.monotonic()
        rss = [rss_mb(proc.pid)]
        time.sleep(window_s)
        c1, t1 = cpu_s(proc.pid), time.monotonic()
        rss.append(rss_mb(proc.pid))
        out, _ = proc.communicate(timeout=60)
    finally:
        terminate(proc, 30)
    result = _child_result(proc, out)
    in_window = [t for t in result.pop("refresh_at") if t0 <= t <= t1]
    return {"core_fraction": (c1 - c0) / (t1 - t0), "rss_mb": rss, **result,
            "refresh_hz": len(in_window) / (t1 - t0), "cpu_s_per_refresh": (c1 - c0) / max(1, len(in_window))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--beds", type=int, default=32)
    ap.add_argument("--window", type=float, default=30.0, help="CPU measurement window (s)")
    ap.add_argument("--hours", type=float, default=8.0, help="CTG hours fed in the memory run (0: no memory run)")
    ap.add_argument("--multisamples", type=int, default=MULTISAMPLES,
                    help=f"MSAA samples of the screen (default {MULTISAMPLES}, as the app; 2 = Kivy's default, the baseline)")
    ap.add_argument("--child-ui", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--child-memory", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, default=60.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_ui:
        child_ui(args.child_ui, args.seconds, args.multisamples)
        return
    if args.child_memory:
        child_memory(args.child_memory, args.beds, args.hours, args.multisamples)
        return
    if args.multisamples < 0 or args.hours < 0:
        ap.error("--multisamples and --hours must be >= 0")
    with tempfile.TemporaryDirectory(prefix="station-ui-bench-") as tmp_s, xvfb() as display:
        tmp = Path(tmp_s)
        sim, urls = start_simulator(args.beds, tmp / "tty", 1.0)
        try:
            engine = measure(write_config(tmp / "engine.toml", urls, True), args.window, sim.pid)
            print(f"engine alone, {args.beds} beds: {engine}", flush=True)
            ui = measure_ui(write_config(tmp / "ui.toml", urls, True), args.window, display, tmp, args.multisamples)
            print(f"engine + nurse screen, {args.beds} beds: {ui}", flush=True)
        finally:
            terminate(sim, 30)
        load_after_cpu = os.getloadavg()[0]
        memory_fields = ""
        if args.hours > 0:
            memory_fields = " " + memory_run(args, display, tmp)
    if not ui["refresh_hz"]:
        raise SystemExit("station_ui: cannot judge (no refresh in the window)")
    if ui["refresh_hz"] < REFRESH_HZ * 0.9:
        print(f"the screen did not keep 4 Hz ({ui['refresh_hz']:.2f} Hz): frames are software-rendered (Mesa) "
              f"and the machine's load average was {load_after_cpu:.1f}", flush=True)
    print(f"RESULT station_ui core_fraction_{args.beds}_beds={ui['core_fraction']:.3f} "
          f"engine_alone={engine['core_fraction']:.3f} ui_over_engine={ui['core_fraction'] / engine['core_fraction']:.2f} "
          f"refresh_hz={ui['refresh_hz']:.2f} cpu_s_per_refresh={ui['cpu_s_per_refresh']:.3f} "
          f"load_avg={load_after_cpu:.1f} multisamples={args.multisamples} gl_samples={ui['gl_samples']}"
          f"{memory_fields}")


def memory_run(args: argparse.Namespace, display: str, tmp: Path) -> str:
    """The RESULT fields of the 8-hour memory run."""
    t_mem = time.monotonic()
    mem = subprocess.run([sys.executable, "-m", "bench.station_ui", "--child-memory", str(tmp), "--beds",
                          str(args.beds), "--hours", str(args.hours), "--multisamples", str(args.multisamples)],
                         env=child_env(display, tmp), capture_output=True, text=True, timeout=3600)
    memory = _child_result(mem, mem.stdout)
    print(f"memory run, {args.hours:g} h x {args.beds} beds in {time.monotonic() - t_mem:.0f} s: {memory}",
          flush=True)
    series = memory["rss_per_hour_mb"]
    if len(series) < 2:
        raise SystemExit(f"station_ui: cannot judge memory (rss series {series}; --hours 2 or more)")
    growth = (series[-1] - series[0]) / series[0]
    return f"rss_growth={growth:.3f} rss_hour1_mb={series[0]:.1f} rss_hour{len(series)}_mb={series[-1]:.1f}"


if __name__ == "__main__":
    main()
