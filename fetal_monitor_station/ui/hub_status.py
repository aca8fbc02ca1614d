"""Is the hub reachable? What the banner says when it is not (the station works on regardless)."""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

STATE_CONNECTED = "connected"
STATE_DOWN = "down"
STATE_LOCAL = "local"  # no hub configured: recording into a local outbox only


@dataclass(frozen=True)
class HubStatus:
    state: str
    since: str  # hh:mm the hub went away
    waiting: int  # records in the outbox


class HubStatusPresenter:
    def __init__(self, link: Any, clock: Callable[[], float] = _time.time) -> None:
        """`link`: a DeviceLink (has stats.connected and depth()) or None for a local outbox."""
        self._link = link
        self._clock = clock
        self._down_since: float | None = None

    def status(self) -> HubStatus:
        if self._link is None:
            return HubStatus(STATE_LOCAL, "", 0)
        waiting = int(self._link.depth())
        if self._link.stats.connected:
            self._down_since = None
            return HubStatus(STATE_CONNECTED, "", waiting)
        if self._down_since is None:
            self._down_since = self._clock()
        return HubStatus(STATE_DOWN, _time.strftime("%H:%M", _time.localtime(self._down_since)), waiting)
