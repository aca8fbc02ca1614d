"""Low-disk watch for the hub's database: a fact for the fleet view before the disk is full.

When free space under the database falls below LOW_FREE_BYTES or LOW_FREE_FRACTION, the hub
says so (hub fault "disk") and stops keeping new quarantine items (they are only counted), so
what space is left goes to clinical records. A full disk itself holds the batch
unacknowledged until there is room (nothing is lost), as before.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

LOW_FREE_BYTES = 512 << 20
LOW_FREE_FRACTION = 0.05
CHECK_INTERVAL_S = 10.0
DISK_FAULTS = "disk"  # hub_faults source


class Usage(NamedTuple):
    total: int
    used: int
    free: int


class DiskWatch:
    def __init__(self, path: Path, usage: Callable[[Path], Usage] = shutil.disk_usage,  # type: ignore[assignment]
                 clock: Callable[[], float] = time.monotonic, low_free_bytes: int = LOW_FREE_BYTES,
                 low_free_fraction: float = LOW_FREE_FRACTION) -> None:
        self.path = path
        self._usage, self._clock = usage, clock
        self._low_bytes, self._low_fraction = low_free_bytes, low_free_fraction
        self._checked_at = float("-inf")
        self.low: str | None = None  # what is wrong, while the disk is low

    def check(self) -> bool:
        """Look again if due; True when the verdict changed (then `low` tells the new one)."""
        now = self._clock()
        if now - self._checked_at < CHECK_INTERVAL_S:
            return False
        self._checked_at = now
        try:
            u = self._usage(self.path)
        except OSError as exc:
            verdict: str | None = f"cannot read free space: {exc.strerror}"
        else:
            low = u.free < self._low_bytes or u.free < self._low_fraction * u.total
            verdict = f"{u.free >> 20} MiB free of {u.total >> 20} MiB: new quarantine items are only counted" \
                if low else None
        changed = verdict != self.low
        self.low = verdict
        return changed
