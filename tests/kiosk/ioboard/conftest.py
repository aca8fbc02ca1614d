from __future__ import annotations

from collections.abc import Iterator

import pytest

from kiosk.ioboard.driver import IoBoard
from kiosk.ioboard.simulator import BoardHandle, start_on_pty


@pytest.fixture
def board_sim() -> Iterator[BoardHandle]:
    handle = start_on_pty(watchdog_ms=60000, motion_timeout_s=0.5)
    yield handle
    handle.stop()


@pytest.fixture
def board(board_sim: BoardHandle, open_pty_port) -> IoBoard:
    return IoBoard(open_pty_port(board_sim.port_url, "ioboard"))
