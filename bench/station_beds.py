"""Station bench: N beds in real time through pseudo-terminals, analysis and an outbox.

A simulator process (`mch-station simulate`) writes Corometrics 115 streams for N beds at
real time on ptys; a station process (`mch-station run`) reads them, archives, analyses and
publishes to a local outbox. We measure the station's CPU seconds per wall second (utime +
stime from /proc) over a window after warm-up, check it kept up (samples committed per
second vs N x 4), and compare with the same station with analysis disabled and with the
simulator process. Then a long accelerated run (few beds, clock x SPEED) compares the
station's RSS at start and end. Ends with one RESULT line.

    python -m bench.station_beds [--beds 128] [--window 30]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from central_hub.launcher import terminate
from fetal_monitor_station.archive import ArchiveReader
from fetal_monitor_station.errors import ArchiveError

CLI = [sys.executable, "-m", "fetal_monitor_station.cli"]
TICKS = os.sysconf("SC_CLK_TCK")
WARMUP_S = 15.0


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def committed(db: Path) -> int:
    try:
        r = ArchiveReader(db)
        try:
            return r.sample_count()
        finally:
            r.close()
    except ArchiveError:
        return 0


def start_simulator(beds: int, tty_dir: Path, speed: float) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen([*CLI, "simulate", "--beds", str(beds), "--dir", str(tty_dir), "--json",
                             "--speed", str(speed)], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout is not None else ""
    if not line:
        raise SystemExit(f"simulator exited with {proc.wait()} before printing its URLs")
    return proc, json.loads(line)


def write_config(path: Path, urls: dict[str, str], analysis: bool, speed: float = 1.0) -> Path:
    beds = "".join(f'[[beds]]\nid = "{b}"\nurl = "{u}"\n' for b, u in urls.items())
    path.write_text(f'station_id = "station-bench"\narchive = "{path.stem}.sqlite3"\n'
                    f'analysis = {str(analysis).lower()}\nclock_speed = {speed}\n{beds}')
    return path


def measure(config: Path, window_s: float, sim_pid: int) -> dict[str, Any]:
    db = config.with_suffix(".sqlite3")
    station = subprocess.Popen([*CLI, "run", "--config", str(config), "--no-view"], text=True)
    try:
        time.sleep(WARMUP_S)
        c0, s0, n0, t0 = cpu_s(station.pid), cpu_s(sim_pid), committed(db), time.monotonic()
        rss = [rss_mb(station.pid)]
        for _ in range(3):
            time.sleep(window_s / 3)
            rss.append(rss_mb(station.pid))
        c1, s1, n1, t1 = cpu_s(station.pid), cpu_s(sim_pid), committed(db), time.monotonic()
        if station.poll() is not None:
            raise SystemExit(f"station exited early with {station.returncode}")
    finally:
        terminate(station, 30)
    wall = t1 - t0
    return {"core_fraction": (c1 - c0) / wall, "sim_core_fraction": (s1 - s0) / wall,
            "samples_per_s": (n1 - n0) / wall, "rss0_mb": rss[0], "rss1_mb": rss[-1],
            "rss_series_mb": [round(r, 1) for r in rss]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--beds", type=int, default=128)
    ap.add_argument("--window", type=float, default=30.0, help="measurement window (s) per run")
    ap.add_argument("--long-beds", type=int, default=4)
    ap.add_argument("--long-speed", type=float, default=100.0)
    ap.add_argument("--long-s", type=float, default=45.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="station-bench-") as tmp_s:
        tmp = Path(tmp_s)
        sim, urls = start_simulator(args.beds, tmp / "tty", 1.0)
        try:
            full = measure(write_config(tmp / "full.toml", urls, True), args.window, sim.pid)
            print(f"{args.beds} beds, analysis on : {full}", flush=True)
            base = measure(write_config(tmp / "base.toml", urls, False), args.window * 0.7, sim.pid)
            print(f"{args.beds} beds, analysis off: {base}", flush=True)
        finally:
            terminate(sim, 30)
        sim, urls = start_simulator(args.long_beds, tmp / "tty-long", args.long_speed)
        try:
            long = measure(write_config(tmp / "long.toml", urls, True, args.long_speed), args.long_s, sim.pid)
            print(f"{args.long_beds} beds at x{args.long_speed:g} for {args.long_s:g} s "
                  f"({(WARMUP_S + args.long_s) * args.long_speed / 60:.0f} CTG-min per bed in all): {long}", flush=True)
        finally:
            terminate(sim, 30)
    expected = args.beds * 4
    print(f"kept up: {full['samples_per_s']:.0f} samples/s committed of {expected} expected", flush=True)
    frac = full["core_fraction"]
    print(f"RESULT station_beds core_fraction_{args.beds}_beds={frac:.3f} "
          f"cpu_s_per_bed_hour={frac * 3600 / args.beds:.2f} "
          f"baseline_no_analysis={base['core_fraction']:.3f} simulator={full['sim_core_fraction']:.3f} "
          f"kept_up={full['samples_per_s'] / expected:.2f} "
          f"rss_start_mb={long['rss0_mb']:.1f} rss_end_mb={long['rss1_mb']:.1f} "
          f"long_run_ctg_min_per_bed={(WARMUP_S + args.long_s) * args.long_speed / 60:.0f}")


if __name__ == "__main__":
    main()
