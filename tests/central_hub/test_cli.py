"""`mch-hub`: help, clear errors with a non-zero exit, and the operator's tables."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from central_hub.cli import EXIT_ERROR, EXIT_OK, main
from central_hub.store import open_store
from mqtt_broker_config.launcher import free_port
from provisioning.site import Site
from tests.central_hub.helpers import FakeDevice, Rig
from tests.support.hub import hub_site
from tests.support.processes import terminate


def test_help_lists_the_commands() -> None:
    out = subprocess.run([sys.executable, "-m", "central_hub.cli", "--help"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0
    for command in ("run", "status", "quarantine", "stats"):
        assert command in out.stdout


def test_missing_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2


def test_bad_db_url_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--db", "mysql://x"]) == EXIT_ERROR
    assert "mch-hub: error: database URL 'mysql://x'" in capsys.readouterr().err


def test_status_without_a_database_says_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--site", str(tmp_path)]) == EXIT_ERROR
    assert "has `mch-hub run` been started?" in capsys.readouterr().err


def test_run_on_a_directory_that_is_not_a_site(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--site", str(tmp_path), "--db", f"sqlite:///{tmp_path / 'h.db'}"]) == EXIT_ERROR
    assert "site.json" in capsys.readouterr().err


def test_run_with_a_missing_hub_identity(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--site", str(hub_site(site.path)), "--hub-id", "hub-7"]) == EXIT_ERROR
    assert "hub identity 'hub-7': missing" in capsys.readouterr().err


def test_status_quarantine_stats_tables(site: Site, enroll_device, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    enroll_device("sim-001")
    enroll_device("sim-002")
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    store = open_store(url)
    rig = Rig(store, [site.device("sim-001")])
    dev = FakeDevice(site.device("sim-001"))
    rig.one(*dev.state("birth", firmware="fw/2.0", queue_depth=4))
    rig.one(*dev.seal(dev.records(1, 12)))
    rig.one("mch/v1/sim-001/rec", b"not an envelope")
    store.close()

    assert main(["status", "--site", str(hub_site(site.path)), "--db", url]) == EXIT_OK
    out = capsys.readouterr().out
    [line1] = [x for x in out.splitlines() if x.startswith("sim-001")]
    assert "fw/2.0" in line1 and line1.split()[-1] == "12" and " 4 " in line1
    [line2] = [x for x in out.splitlines() if x.startswith("sim-002")]
    assert "never seen" in line2

    assert main(["quarantine", "--db", url]) == EXIT_OK
    out = capsys.readouterr().out
    assert "malformed" in out and "mch/v1/sim-001/rec" in out

    assert main(["stats", "--db", url]) == EXIT_OK
    out = capsys.readouterr().out
    assert "records stored: 12" in out and "malformed: 1" in out

    assert main(["status", "--site", str(hub_site(site.path)), "--db", url, "--json"]) == EXIT_OK
    fleet = {d["device_id"]: d for d in json.loads(capsys.readouterr().out)}
    assert fleet["sim-001"]["records_stored"] == 12 and fleet["sim-001"]["status"] == "active"
    assert fleet["sim-002"]["state"] == "never seen"
    assert main(["quarantine", "--db", url, "--json"]) == EXIT_OK
    assert [q["reason"] for q in json.loads(capsys.readouterr().out)] == ["malformed"]
    assert main(["stats", "--db", url, "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["records"] == 12


def test_run_without_a_broker_says_so_and_stops_at_once(site: Site, tmp_path: Path) -> None:
    """A technician with a wrong broker address sees why, and Ctrl-C/SIGTERM does not hang."""
    port = free_port()  # nobody listens here
    proc = subprocess.Popen([sys.executable, "-m", "central_hub.cli", "run", "--site", str(hub_site(site.path)),
                             "--state-dir", str(tmp_path / "state"), "--broker", f"127.0.0.1:{port}"],
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        lines = []
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if "cannot connect to the broker" in line:
                break
        assert f"cannot connect to the broker at 127.0.0.1:{port}" in "".join(lines)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == EXIT_OK
        assert time.monotonic() - t0 < 5
    finally:
        terminate(proc, 5)
