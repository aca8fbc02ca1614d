"""pcscd with the vsmartcard vpcd virtual reader, and virtual PBOC cards plugged into it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.bankcard import BankCardReader, PcscClient
from kiosk.bankcard.card_profiles import PROFILES
from kiosk.bankcard.pcsc import STATE_PRESENT
from kiosk.bankcard.virtual_card import VirtualPbocCard
from kiosk.bankcard.vpcd import VPCD_DEFAULT_PORT, VpcdCardLink

REPO = Path(__file__).resolve().parents[3]
SETUP_SCRIPT = REPO / "scripts" / "setup.d" / "30-kiosk.sh"
PCSCD_PID_FILE = Path("/run/pcscd/pcscd.pid")
VIRTUAL_READER = "Virtual PCD 00 00"  # slot 0 of /etc/reader.conf.d/vpcd, TCP 35963
STOP_WAIT_S = 5.0


def pcscd_pid() -> int | None:
    try:
        pid = int(PCSCD_PID_FILE.read_bytes().strip(b"\0\n "))
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


def start_pcscd() -> None:
    """Start pcscd the way the setup script does (idempotent)."""
    subprocess.run(["bash", str(SETUP_SCRIPT)], check=True, timeout=30, capture_output=True)


def restart_pcscd() -> None:
    """Stop the running pcscd (ours: started by 30-kiosk.sh) and start a new one."""
    pid = pcscd_pid()
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_S
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    start_pcscd()


@pytest.fixture(scope="session")
def pcscd() -> None:
    start_pcscd()
    assert pcscd_pid() is not None


@pytest.fixture
def reader(pcscd: None) -> Iterator[BankCardReader]:
    client = PcscClient(call_timeout_s=5.0)
    yield BankCardReader(client, reader_name=VIRTUAL_READER, recovery_s=15.0, chip_grace_s=0.5)
    client.release()


@pytest.fixture
def insert_card(pcscd: None) -> Iterator:
    links: list[VpcdCardLink] = []

    def insert(profile: str | VirtualPbocCard) -> VpcdCardLink:
        card = profile if isinstance(profile, VirtualPbocCard) else VirtualPbocCard(PROFILES[profile])
        link = VpcdCardLink(card, port=VPCD_DEFAULT_PORT).insert()
        links.append(link)
        return link

    yield insert
    for link in links:
        link.remove()
    wait_reader_empty()


def wait_removed(reader: BankCardReader, timeout_s: float = STOP_WAIT_S) -> float:
    """Seconds until ``reader`` stops showing a card."""
    start = time.monotonic()
    while reader.card_present():
        assert time.monotonic() - start < timeout_s, "card still present after removal"
        time.sleep(0.05)
    return time.monotonic() - start


def wait_reader_empty(timeout_s: float = STOP_WAIT_S) -> None:
    """pcscd notices a removed virtual card at its next poll: wait for it."""
    client = PcscClient()
    try:
        deadline = time.monotonic() + timeout_s
        while client.card_state(VIRTUAL_READER, 0) & STATE_PRESENT:
            assert time.monotonic() < deadline, "virtual reader still shows a card"
            time.sleep(0.05)
    finally:
        client.release()
