"""SNTP on the unix port against a local UDP responder: the bridge's clock becomes known."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.firmware.conftest import run_micropython

NTP_DELTA_S = 2208988800
SCRIPT = """
import sys
from mchfw import clock
c = clock.Clock()
print("before", c.now_ms())
print("synced", c.sync_ntp("127.0.0.1", int(sys.argv[1])))
print("now", c.now_ms())
"""


@pytest.fixture
def ntp_server() -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, addr = sock.recvfrom(512)
            except TimeoutError:
                continue
            if len(data) >= 48:
                now = time.time()
                secs = int(now) + NTP_DELTA_S
                frac = int((now % 1) * 2**32)
                reply = bytes([0x1C]) + bytes(39) + struct.pack(">II", secs, frac)
                sock.sendto(reply, addr)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join(5)
    sock.close()


@pytest.mark.integration
def test_clock_syncs_from_sntp(ntp_server: int, tmp_path: Path) -> None:
    script = tmp_path / "ntp.py"
    script.write_text(SCRIPT)
    proc = run_micropython([str(script), str(ntp_server)], timeout=30)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert lines["before"] == "None" and lines["synced"] == "True"
    assert abs(int(lines["now"]) - time.time() * 1000) < 2000
