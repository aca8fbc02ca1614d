from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.a4printer.errors import PrinterOfflineError
from kiosk.cli import EXIT_FAULT, EXIT_OK, EXIT_USAGE, main
from kiosk.config import KioskConfig, SerialDeviceConfig
from kiosk.idcard.simulator import start_on_pty, valid_card
from kiosk.selftest import CheckResult, format_table, run_selftest

CONSOLE_SCRIPT = Path(sys.executable).with_name("mch-kiosk")


@pytest.fixture
def silent_pty() -> Iterator[str]:
    """A serial port where nothing answers: a pty whose other end never speaks."""
    master, slave = os.openpty()
    try:
        yield os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


def test_console_script_help() -> None:
    proc = subprocess.run([str(CONSOLE_SCRIPT), "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "selftest" in proc.stdout and "check-config" in proc.stdout
    proc = subprocess.run([str(CONSOLE_SCRIPT), "selftest", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--simulate" in proc.stdout and "--config" in proc.stdout


def test_no_command_and_bad_usage_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == EXIT_USAGE
    with pytest.raises(SystemExit) as info:
        main(["selftest", "--bogus"])
    assert info.value.code == EXIT_USAGE


def test_selftest_without_configuration_is_a_clear_error(capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCH_KIOSK_CONFIG", raising=False)
    assert main(["selftest"]) == EXIT_USAGE
    assert "no configuration: pass --config FILE" in capsys.readouterr().err


def test_check_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "k.toml"
    good.write_text("[a4printer]\nqueue = 'report'\n")
    assert main(["check-config", str(good)]) == EXIT_OK
    assert "devices: a4printer" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text('{"a4printer": {"queue": "report", "colour": true}}')
    assert main(["check-config", str(bad)]) == EXIT_FAULT
    assert "unknown setting(s) colour" in capsys.readouterr().err


def test_selftest_whose_device_cannot_be_set_up_exits_1_not_2(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A device fault is a failure (1); 2 is kept for usage errors."""
    import kiosk.simulation

    def broken(config: object) -> object:
        raise PrinterOfflineError("cannot set up simulated queue", port="/run/cups/cups.sock")

    monkeypatch.setattr(kiosk.simulation, "simulated", broken)
    assert main(["selftest", "--simulate"]) == EXIT_FAULT
    assert "cannot set up simulated queue" in capsys.readouterr().err


def test_selftest_reports_a_fault_row_for_a_silent_port(tmp_path: Path, silent_pty: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    idcard = start_on_pty([valid_card()])
    try:
        cfg = tmp_path / "kiosk.toml"
        cfg.write_text(f"[idcard]\nport = '{idcard.port_url}'\n[ioboard]\nport = '{silent_pty}'\n"
                       f"[touch]\ndevice = '/dev/input/event99'\n")
        assert main(["selftest", "--config", str(cfg)]) == EXIT_FAULT
    finally:
        idcard.stop()
    out = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line for line in out[1:-1]}
    assert rows["idcard"].split()[1] == "OK"
    assert rows["ioboard"].split()[1] == "FAULT" and silent_pty in rows["ioboard"]
    assert "no response" in rows["ioboard"] or "timeout" in rows["ioboard"].lower()
    assert rows["touch"].split()[1] == "FAULT" and "does not exist" in rows["touch"]
    assert out[-1] == "1/3 devices OK"


def test_a_crashing_check_is_a_fault_not_a_crash() -> None:
    def boom(_cfg: object) -> str:
        raise RuntimeError("driver bug")

    config = KioskConfig(idcard=SerialDeviceConfig(port="/dev/null"))
    results = run_selftest(config, checks={"idcard": boom})
    assert results == [CheckResult("idcard", False, "unexpected RuntimeError: driver bug", "/dev/null")]
    assert "FAULT" in format_table(results)


@pytest.mark.integration
def test_selftest_simulate_all_devices_ok() -> None:
    proc = subprocess.run([str(CONSOLE_SCRIPT), "selftest", "--simulate"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:-1]] == ["idcard", "epp", "ioboard", "receipt", "bankcard",
                                                         "a4printer", "touch"]
    assert all(line.split()[1] == "OK" for line in lines[1:-1])
    assert lines[-1] == "7/7 devices OK"
    assert "card present" in proc.stdout


@pytest.mark.integration
def test_selftest_faults_for_missing_queue_and_reader(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "kiosk.json"
    cfg.write_text('{"a4printer": {"queue": "no_such_queue"}, "bankcard": {"reader": "No Such Reader"}}')
    assert main(["selftest", "--config", str(cfg)]) == EXIT_FAULT
    out = capsys.readouterr().out
    assert "a4printer  FAULT" in out and "bankcard   FAULT" in out and "No Such Reader" in out
    assert out.splitlines()[-1] == "0/2 devices OK"
