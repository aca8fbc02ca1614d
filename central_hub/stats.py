"""Runtime counters of a hub worker: every overflow, retry and rejection is counted, never silent."""

from __future__ import annotations

import threading
from collections import Counter

from central_hub.outcome import Outcome, Status


class IngestStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._c: Counter[str] = Counter()

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._c[name] += n

    def outcome(self, o: Outcome) -> None:
        with self._lock:
            self._c["messages"] += 1
            self._c[f"messages_{o.status.value}"] += 1
            self._c["records_stored"] += len(o.stored)
            self._c["records_duplicate"] += len(o.duplicates)
            self._c["records_held"] += len(o.held) if o.status is not Status.REDELIVERED else 0
            if o.reason:
                self._c[f"quarantined_{o.reason}"] += 1
            for reason in o.held_reasons:
                self._c[f"held_{reason}"] += 1

    def get(self, name: str) -> int:
        with self._lock:
            return self._c[name]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._c.items()))
