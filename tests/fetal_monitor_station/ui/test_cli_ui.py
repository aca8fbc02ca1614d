"""`mch-station ui` and `mch-station report` as a technician runs them: simulated monitors on
ptys, the UI under Xvfb for a few seconds, then a report of what it recorded."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import terminate

from .conftest import REPO, kivy_env

CLI = [sys.executable, "-m", "fetal_monitor_station.cli"]


def test_ui_help_and_usage_errors(tmp_path: Path) -> None:
    ok = subprocess.run([*CLI, "ui", "--help"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "--config" in ok.stdout and "--printer" in ok.stdout
    missing = subprocess.run([*CLI, "ui", "--config", str(tmp_path / "none.toml")], capture_output=True, text=True,
                             timeout=60)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    bad = subprocess.run([*CLI, "report", "--config", str(tmp_path / "x.toml")], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2  # argparse: --episode and --nurse are required


@pytest.mark.ui
@pytest.mark.slow
def test_ui_runs_on_simulated_monitors_then_report(xvfb_display: str, tmp_path: Path) -> None:
    sim = subprocess.Popen([*CLI, "simulate", "--beds", "3", "--dir", str(tmp_path / "tty"), "--json"],
                           stdout=subprocess.PIPE, text=True)
    try:
        assert sim.stdout is not None
        urls = json.loads(sim.stdout.readline())
        beds = "".join(f'[[beds]]\nid = "{b}"\nurl = "{u}"\n' for b, u in urls.items())
        cfg = tmp_path / "station.toml"
        cfg.write_text(f'station_id = "station-01"\narchive = "archive.sqlite3"\n{beds}')
        ui = subprocess.run([*CLI, "ui", "--config", str(cfg), "--duration", "8", "--lang", "en"],
                            cwd=REPO, env=kivy_env(xvfb_display, tmp_path), capture_output=True, text=True,
                            timeout=120)
        assert ui.returncode == 0, ui.stderr[-3000:]
    finally:
        terminate(sim, 20)
    db = sqlite3.connect(tmp_path / "archive.sqlite3")
    try:
        episodes = db.execute("SELECT episode_id, bed_id FROM episodes ORDER BY episode_id").fetchall()
        samples = db.execute("SELECT coalesce(sum(n_samples), 0) FROM ctg_minutes").fetchone()[0]
    finally:
        db.close()
    assert len(episodes) == 3 and samples > 3 * 4 * 3  # unidentified traces of three beds, seconds of each
    assert (tmp_path / "archive-nurse.sqlite3").is_file()
    rep = subprocess.run([*CLI, "report", "--config", str(cfg), "--episode", str(episodes[0][0]), "--nurse",
                          "N0042", "--minutes", "1"], capture_output=True, text=True, timeout=120)
    assert rep.returncode == 0, rep.stderr
    pdf = Path(rep.stdout.split(" (")[0])
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF") and pdf.parent.parent == tmp_path / "reports"
    out = sqlite3.connect(tmp_path / "archive-outbox.sqlite3")
    try:
        (n,) = out.execute("SELECT count(*) FROM outbox WHERE schema = 'ctg-report/1'").fetchone()
    finally:
        out.close()
    assert n == 1
