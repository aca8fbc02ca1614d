from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fetal_monitor_station.archive import ArchiveReader
from fetal_monitor_station.cli import main
from fetal_monitor_station.errors import ArchiveError
from tests.fetal_monitor_station.helpers import wait_for
from tests.support.processes import terminate

CLI = [sys.executable, "-m", "fetal_monitor_station.cli"]


def test_help_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "simulate" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2


def test_missing_or_bad_config_exits_2_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--config", str(tmp_path / "none.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err
    bad = tmp_path / "s.toml"
    bad.write_text('station_id = "station-01"\narchive = "a.sqlite3"\nbeds = [{id = "b1"}]\n')
    assert main(["run", "--config", str(bad)]) == 2
    assert "missing required key 'url'" in capsys.readouterr().err


def test_simulate_rejects_bad_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--beds", "0"]) == 1
    assert "--beds" in capsys.readouterr().err


def test_analyse_missing_file_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyse", str(tmp_path / "none.csv"), "--json"]) == 1
    assert "no such file" in capsys.readouterr().err


@pytest.fixture
def simulators(tmp_path: Path) -> Iterator[dict[str, str]]:
    proc = subprocess.Popen([*CLI, "simulate", "--beds", "2", "--dir", str(tmp_path / "tty"), "--json"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        urls = json.loads(proc.stdout.readline())
        yield urls
    finally:
        terminate(proc, 10)


def _config(tmp_path: Path, urls: dict[str, str]) -> Path:
    cfg = tmp_path / "station.toml"
    beds = "\n".join(f'[[beds]]\nid = "{b}"\nurl = "{u}"\n' for b, u in urls.items())
    cfg.write_text(f'station_id = "station-01"\narchive = "archive.sqlite3"\n{beds}')
    return cfg


@pytest.mark.integration
def test_simulate_then_run_shows_live_view(tmp_path: Path, simulators: dict[str, str]) -> None:
    assert sorted(simulators) == ["bed-01", "bed-02"]
    assert all(os.path.islink(u) for u in simulators.values())
    cfg = _config(tmp_path, simulators)
    out = subprocess.run([*CLI, "run", "--config", str(cfg), "--duration", "4", "--view-interval", "1"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    last = out.stdout.strip().splitlines()[-2:]
    assert all(" up " in line and "unidentified" in line for line in last), out.stdout
    reader = ArchiveReader(tmp_path / "archive.sqlite3")
    assert reader.sample_count() > 0 and reader.integrity_check() == "ok"


def _committed(db: Path) -> int:
    try:
        reader = ArchiveReader(db)
    except ArchiveError:  # not created yet
        return 0
    try:
        return reader.sample_count()
    except ArchiveError:  # tables not created yet
        return 0
    finally:
        reader.close()


@pytest.mark.integration
@pytest.mark.slow
def test_sigkill_mid_stream_keeps_every_committed_sample(tmp_path: Path, simulators: dict[str, str]) -> None:
    cfg = _config(tmp_path, simulators)
    db = tmp_path / "archive.sqlite3"
    station = subprocess.Popen([*CLI, "run", "--config", str(cfg), "--no-view"], stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: _committed(db) >= 40, 30.0)
        reader = ArchiveReader(db)
        wait_for(lambda: False, 1.3)
        before = {ep: reader.history(ep, 0, 4e9) for ep in (1, 2)}
        station.send_signal(signal.SIGKILL)
        station.wait(10)
    finally:
        if station.poll() is None:
            station.kill()
            station.wait(5)
    reader = ArchiveReader(db)
    assert reader.integrity_check() == "ok"
    after = {ep: reader.history(ep, 0, 4e9) for ep in (1, 2)}
    for ep, samples in before.items():
        assert samples and set(samples) <= set(after[ep])  # everything committed before the kill is there
    reader.close()
    # restarted: same open episodes, acquisition goes on
    again = subprocess.Popen([*CLI, "run", "--config", str(cfg), "--no-view", "--duration", "3"],
                             stderr=subprocess.PIPE, text=True)
    try:
        assert again.wait(30) == 0
    finally:
        terminate(again, 10)
    reader = ArchiveReader(db)
    n_eps = reader.db.execute("SELECT count(*) FROM episodes").fetchone()[0]
    assert n_eps == 2 and reader.sample_count() > sum(len(s) for s in after.values())
    assert reader.integrity_check() == "ok"


def test_analyse_a_synthetic_recording_prints_one_json_document(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from fetal_monitor_station.sources.ctgz import write_ctgz
    from fetal_monitor_station.sources.synthetic import SyntheticSpec, generate

    trace, _ = generate(SyntheticSpec(duration_s=1200, seed=11, decel_types=("late",)))
    path = tmp_path / "synthetic.ctg.npz"
    write_ctgz(trace, path)
    assert main(["analyse", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    doc = json.loads(out)
    assert doc["duration_s"] == 1200 and len(doc["baseline_bpm"]) == 1200 * 4
    assert doc["decelerations"] and doc["contractions"]
    # without --json: the readable summary of the same analysis, not JSON
    assert main(["analyse", str(path)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"{doc['source']}: 20:00") and f"decelerations: {len(doc['decelerations'])}" in text
    first = doc["decelerations"][0]
    assert f"{first.get('type', 'untyped')}, nadir {first['amplitude']:+.0f} bpm" in text
    assert "classification at" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_analyse_a_corrupt_recording_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.ctg.npz"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["analyse", str(path), "--json"]) == 1
    err = capsys.readouterr().err
    assert "broken.ctg.npz" in err and "Traceback" not in err


def test_run_with_a_missing_link_bundle_or_unwritable_archive(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    beds = '[[beds]]\nid = "b1"\nurl = "/nonexistent/tty"\n'
    cfg = tmp_path / "link.toml"
    cfg.write_text(f'station_id = "station-01"\narchive = "a.sqlite3"\n[link]\nbundle = "missing"\n{beds}')
    assert main(["run", "--config", str(cfg), "--duration", "0.1"]) == 2
    assert "missing/config.json" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("")
    cfg2 = tmp_path / "archive.toml"
    cfg2.write_text(f'station_id = "station-01"\narchive = "{blocker}/a.sqlite3"\n{beds}')
    assert main(["run", "--config", str(cfg2), "--duration", "0.1"]) == 1
    assert "cannot open" in capsys.readouterr().err
