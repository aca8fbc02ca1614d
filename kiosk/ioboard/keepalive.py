"""Keep-alive layer over :class:`IoBoard`: a heartbeat every second so the board's host-silence
watchdog never fires while the kiosk application is alive (policy kept out of the driver)."""

from __future__ import annotations

import logging
import threading

from kiosk.errors import KioskDeviceError
from kiosk.ioboard.driver import BoardStatus, IoBoard

HEARTBEAT_INTERVAL_S = 1.0
log = logging.getLogger(__name__)


class KeepAlive:
    """Background heartbeats; ``last_status`` and ``failures`` for the fleet state."""

    def __init__(self, board: IoBoard, *, interval_s: float = HEARTBEAT_INTERVAL_S) -> None:
        self._board = board
        self._interval_s = interval_s
        self._stop = threading.Event()
        self.last_status: BoardStatus | None = None
        self.failures = 0
        self._thread = threading.Thread(target=self._run, name="ioboard-keepalive", daemon=True)

    def start(self) -> KeepAlive:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.last_status = self._board.heartbeat()
            except KioskDeviceError as exc:
                self.failures += 1
                log.warning("ioboard keep-alive: %s", exc)
            self._stop.wait(self._interval_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
