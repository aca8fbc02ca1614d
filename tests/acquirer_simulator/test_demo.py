"""The demo files: the simulator's accounts and the hub's services.json agree and are private."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from acquirer_simulator.accounts import Book
from acquirer_simulator.demo import main
from central_hub.services.settings import load_settings


def test_writes_matching_private_files(tmp_path: Path) -> None:
    accounts, state = tmp_path / "acq" / "accounts.json", tmp_path / "hub-state"
    assert main(["--accounts-out", str(accounts), "--hub-state", str(state), "--port", "8583", "--terminal-id",
                 "KIOSK001", "--pin-key", "0123456789ABCDEFFEDCBA9876543210",
                 "--account", "6299990000000012345:123456", "--account", "6299990000000056781:654321:100:drop"]) == 0
    book = Book.read(accounts)
    settings = load_settings(state)
    assert settings.gateway is not None and settings.gateway.mac_key == book.mac_key
    assert (settings.gateway.host, settings.gateway.port) == ("127.0.0.1", 8583)
    assert book.accounts["6299990000000056781"].behaviour == "drop"
    for path in (accounts, state / "services.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(accounts.read_text())["terminals"]["KIOSK001"]["algorithm"] == "tdes"


def test_bad_arguments_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--accounts-out", str(tmp_path / "a"), "--hub-state", str(tmp_path), "--port", "1", "--terminal-id",
              "SHORT", "--pin-key", "00", "--account", "1:2"])
    assert exc.value.code == 2


def test_terminal_mac_key_is_written_for_the_terminal(tmp_path: Path) -> None:
    accounts, state = tmp_path / "accounts.json", tmp_path / "hub-state"
    tak = "5E4D3C2B1A0918273645546372819000"
    assert main(["--accounts-out", str(accounts), "--hub-state", str(state), "--port", "8583", "--terminal-id",
                 "KIOSK001", "--pin-key", "0123456789ABCDEFFEDCBA9876543210", "--terminal-mac-key", tak,
                 "--account", "6299990000000012345:123456"]) == 0
    assert Book.read(accounts).terminals["KIOSK001"].mac_key == bytes.fromhex(tak)
    with pytest.raises(SystemExit) as exc:
        main(["--accounts-out", str(accounts), "--hub-state", str(state), "--port", "8583", "--terminal-id",
              "KIOSK001", "--pin-key", "0123456789ABCDEFFEDCBA9876543210", "--terminal-mac-key", "00",
              "--account", "6299990000000012345:123456"])
    assert exc.value.code == 2
