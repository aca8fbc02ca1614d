"""`python -m acquirer_simulator`: --help, a clear error and exit 1 for a bad accounts file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from acquirer_simulator.__main__ import main


def test_help() -> None:
    out = subprocess.run([sys.executable, "-m", "acquirer_simulator", "--help"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0 and "--accounts" in out.stdout


def test_bad_accounts_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "accounts.json"
    bad.write_text('{"mac_key": "00"}')
    assert main(["--accounts", str(bad)]) == 1
    assert "acquirer-simulator: error:" in capsys.readouterr().err
    assert main(["--accounts", str(tmp_path / "missing.json")]) == 1
