"""SNTP on the unix port against a local UDP responder: the bridge's clock becomes known, and
only from a datagram that answers its request (origin timestamp, mode, stratum, leap indicator).
Before, any 48-byte datagram on the socket set the clock."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.firmware.conftest import run_micropython

NTP_DELTA_S = 2208988800
DAY_S = 86400
SCRIPT = """
import sys
from mchfw import clock
c = clock.Clock()
print("before", c.now_ms())
print("synced", c.sync_ntp("127.0.0.1", int(sys.argv[1])))
print("now", c.now_ms())
"""

Reply = Callable[[bytes], list[bytes]]  # request -> datagrams to send back, in order


def answer(request: bytes, *, offset_s: float = 0.0, first: int = 0x24, stratum: int = 2,
           origin: bytes | None = None) -> bytes:
    now = time.time() + offset_s
    head = bytes([first, stratum]) + bytes(22)
    return head + (request[40:48] if origin is None else origin) + bytes(8) + struct.pack(
        ">II", int(now) + NTP_DELTA_S, int((now % 1) * 2**32))


@pytest.fixture
def ntp_server() -> Iterator[Callable[[Reply], int]]:
    socks: list[socket.socket] = []
    stop = threading.Event()

    def start(reply: Reply) -> int:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.2)
        socks.append(sock)

        def serve() -> None:
            while not stop.is_set():
                try:
                    data, addr = sock.recvfrom(512)
                except TimeoutError:
                    continue
                if len(data) >= 48:
                    for datagram in reply(data):
                        sock.sendto(datagram, addr)

        threading.Thread(target=serve, daemon=True).start()
        return int(sock.getsockname()[1])

    yield start
    stop.set()
    time.sleep(0.3)
    for sock in socks:
        sock.close()


def sync(port: int, tmp_path: Path) -> dict[str, str]:
    script = tmp_path / "ntp.py"
    script.write_text(SCRIPT)
    proc = run_micropython([str(script), str(port)], timeout=30)
    assert proc.returncode == 0, proc.stderr
    return dict(line.split(" ", 1) for line in proc.stdout.splitlines())


@pytest.mark.integration
def test_clock_syncs_from_sntp(ntp_server: Callable[[Reply], int], tmp_path: Path) -> None:
    lines = sync(ntp_server(lambda req: [answer(req)]), tmp_path)
    assert lines["before"] == "None" and lines["synced"] == "True"
    assert abs(int(lines["now"]) - time.time() * 1000) < 2000


@pytest.mark.integration
def test_spoofed_datagrams_before_the_answer_are_ignored(ntp_server: Callable[[Reply], int], tmp_path: Path) -> None:
    def reply(req: bytes) -> list[bytes]:
        return [answer(req, offset_s=DAY_S, origin=bytes(8)),   # does not echo our request
                answer(req, offset_s=DAY_S, first=0x23),        # mode 3: a client, not a server
                answer(req, offset_s=DAY_S, stratum=0),         # kiss-o'-death
                answer(req)]                                    # the real answer
    lines = sync(ntp_server(reply), tmp_path)
    assert lines["synced"] == "True"
    assert abs(int(lines["now"]) - time.time() * 1000) < 2000  # not a day ahead


@pytest.mark.integration
@pytest.mark.parametrize("bad", [dict(origin=bytes(8)), dict(first=0x23), dict(stratum=0), dict(stratum=16),
                                 dict(first=0xE4)])  # 0xE4: leap indicator 3, clock not synchronised
def test_no_answer_to_our_request_no_clock(ntp_server: Callable[[Reply], int], tmp_path: Path,
                                           bad: dict[str, object]) -> None:
    lines = sync(ntp_server(lambda req: [answer(req, offset_s=DAY_S, **bad)]), tmp_path)  # type: ignore[arg-type]
    assert lines["synced"] == "False" and lines["now"] == "None"
