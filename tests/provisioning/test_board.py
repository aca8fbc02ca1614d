"""A MicroPython bridge provisioned over its raw REPL: the real unix port on a pty, our side
through pyserial on the other end (as a USB serial cable would be)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import threading
import tty
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import serial

from provisioning.board import BOARD_FILES, provision_board
from provisioning.devsite import DEV_PASSPHRASE, make_dev_site
from provisioning.journal import Journal
from provisioning.rawrepl import RawRepl, ReplError
from provisioning.site import Site
from tests.firmware.conftest import FIRMWARE, MICROPYTHON
from tests.provisioning.test_cli import EXIT_ERROR, EXIT_OK, run

pytestmark = pytest.mark.integration


@dataclass
class Board:
    port_path: str
    process: subprocess.Popen[bytes]


def _cable(a: int, b: int, stop: threading.Event) -> None:
    """Copy bytes both ways between two pty controllers, as a serial cable would."""
    while not stop.is_set():
        for fd in select.select([a, b], [], [], 0.05)[0]:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return
            os.write(b if fd == a else a, data)


@pytest.fixture
def board() -> Iterator[Board]:
    """The MicroPython unix port with its REPL on its own pty, linked to a second pty whose
    terminal end (`port_path`) is the technician's: two terminals, like the two ends of a cable."""
    assert MICROPYTHON.exists(), f"MicroPython unix port not installed at {MICROPYTHON}"
    board_side, board_tty = pty.openpty()
    tty.setraw(board_tty)
    laptop_side, laptop_tty = pty.openpty()
    env = {**os.environ, "MICROPYPATH": f"{FIRMWARE}:.frozen"}
    proc = subprocess.Popen([str(MICROPYTHON), "-X", "heapsize=4M"], stdin=board_tty, stdout=board_tty,
                            stderr=board_tty, env=env, start_new_session=True)
    os.close(board_tty)
    stop = threading.Event()
    cable = threading.Thread(target=_cable, args=(board_side, laptop_side, stop), daemon=True)
    cable.start()
    try:
        yield Board(os.ttyname(laptop_tty), proc)
    finally:
        stop.set()
        cable.join(timeout=5)
        proc.kill()
        proc.wait(timeout=10)
        for fd in (board_side, laptop_side, laptop_tty):
            os.close(fd)


def _repl(board: Board) -> tuple[RawRepl, serial.Serial]:
    port = serial.serial_for_url(board.port_path, baudrate=115200, timeout=0.05)
    return RawRepl(port, name=board.port_path), port


def test_bundle_written_checked_and_read_by_the_firmware(site: Site, board: Board, tmp_path: Path) -> None:
    bundle = site.enroll("bridge-ctg-001", "bridge").bundle
    flash = tmp_path / "flash" / "bundle"  # the unix port's filesystem is the host's
    repl, port = _repl(board)
    try:
        sent: list[int] = []
        written = provision_board(repl, bundle, "bridge-ctg-001", str(flash), progress=sent.append)
        assert [w.name for w in written] == list(BOARD_FILES)
        assert sum(sent) == sum(w.size for w in written) == sum((bundle / n).stat().st_size for n in BOARD_FILES)
        for name in BOARD_FILES:
            assert (flash / name).read_bytes() == (bundle / name).read_bytes(), name
        assert not list(flash.glob("*.tmp"))
        # the firmware's own bundle reader, on the board, accepts what was written
        repl.enter()
        out = repl.exec(f"from mchfw.config import Config\nc = Config({str(flash)!r})\n"
                        "print(c.device_id, c.kind, len(c.tls_material()))")
        assert out.decode().split() == ["bridge-ctg-001", "bridge", "3"]
        with pytest.raises(ReplError, match="ZeroDivisionError"):
            repl.exec("1/0")  # a board-side error is reported, and the REPL still answers
        assert repl.exec("print(6*7)") == b"42\n"
        repl.leave()
    finally:
        port.close()


def test_board_errors_name_the_cause(site: Site, board: Board, tmp_path: Path) -> None:
    bundle = site.enroll("bridge-ctg-002", "bridge").bundle
    repl, port = _repl(board)
    try:
        with pytest.raises(ReplError, match="OSError"):
            provision_board(repl, bundle, "bridge-ctg-002", "/proc/no-such-dir/bundle")
        with pytest.raises(Exception, match="not the bundle of bridge-ctg-009"):
            provision_board(repl, bundle, "bridge-ctg-009", str(tmp_path / "b"))
    finally:
        port.close()
    controller, terminal = pty.openpty()  # a port with nothing MicroPython behind it
    silent = serial.serial_for_url(os.ttyname(terminal), timeout=0.05)
    try:
        with pytest.raises(ReplError, match="is a MicroPython board on this port"):
            RawRepl(silent).enter()
    finally:
        silent.close()
        os.close(terminal)
        os.close(controller)


def test_cli_provisions_the_board_and_the_keys_leave_the_site(board: Board, tmp_path: Path) -> None:
    site = make_dev_site(tmp_path / "site", ["bridge-ctg-003", "bridge-ctg-004"]).path
    flash = tmp_path / "flash" / "bundle"
    result = run("board", "--site", site, "bridge-ctg-003", "--port", board.port_path, "--remote-dir", flash,
                 "--json", "--technician", "tech-sun")
    assert result.returncode == EXIT_OK, result.stderr
    report = json.loads(result.stdout)
    assert sorted(report["removed_from_site"]) == ["device.key.pem", "link-keys.json"]
    assert not (site / "bundles" / "bridge-ctg-003" / "device.key.pem").exists()
    assert json.loads((flash / "config.json").read_text())["device_id"] == "bridge-ctg-003"
    entry = Journal(site).verify()[-1]
    assert (entry.action, entry.subject, entry.technician) == ("board", "bridge-ctg-003", "tech-sun")
    assert entry.details["files"]["device.key.pem"] == report["files"][3]["sha256"]
    again = run("board", "--site", site, "bridge-ctg-003", "--port", board.port_path, "--remote-dir", flash)
    assert again.returncode == EXIT_ERROR and "already written to a board" in again.stderr
    missing = run("board", "--site", site, "bridge-ctg-004", "--port", tmp_path / "no-tty")
    assert missing.returncode == EXIT_ERROR and "cannot open" in missing.stderr


def test_rotated_keys_reach_a_board_whose_key_left_the_site(board: Board, tmp_path: Path) -> None:
    """A bridge boarded once has no key left in the site; `rotate-keys` then `board --link-keys`
    replaces only its link-keys.json, and the firmware's own reader takes the new keys."""
    site = make_dev_site(tmp_path / "site", ["bridge-ctg-005", "bridge-ctg-006"]).path
    flash = tmp_path / "flash" / "bundle"
    assert run("board", "--site", site, "bridge-ctg-005", "--port", board.port_path, "--remote-dir", flash,
               "--json").returncode == EXIT_OK
    old = json.loads((flash / "link-keys.json").read_text())
    stick = tmp_path / "stick"
    rotated = run("rotate-keys", "--site", site, "bridge-ctg-005", "--out", stick,
                  env_passphrase=DEV_PASSPHRASE.decode())
    assert rotated.returncode == EXIT_OK, rotated.stderr
    new = json.loads((stick / "link-keys.json").read_text())
    assert new["uplink"]["k"] != old["uplink"]["k"]

    refused = run("board", "--site", site, "bridge-ctg-006", "--port", board.port_path, "--remote-dir", flash,
                  "--link-keys", stick / "link-keys.json")
    assert refused.returncode == EXIT_ERROR and "not of 'bridge-ctg-006'" in refused.stderr
    done = run("board", "--site", site, "bridge-ctg-005", "--port", board.port_path, "--remote-dir", flash,
               "--link-keys", stick / "link-keys.json", "--technician", "tech-sun")
    assert done.returncode == EXIT_OK, done.stderr
    assert (flash / "link-keys.json").read_bytes() == (stick / "link-keys.json").read_bytes()
    assert (flash / "device.key.pem").exists() and (flash / "config.json").exists()  # the rest untouched
    repl, port = _repl(board)
    try:
        repl.enter()
        out = repl.exec(f"from mchfw.config import Config\nimport binascii\nc = Config({str(flash)!r})\n"
                        "print(binascii.hexlify(c.uplink_key).decode())")
        repl.leave()
    finally:
        port.close()
    assert out.decode().strip() == new["uplink"]["k"]
    entry = Journal(site).verify()[-1]
    assert (entry.action, entry.subject, entry.details["link_keys_only"]) == ("board", "bridge-ctg-005", True)
