"""What the simulator has been told to do wrong, for how many requests."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import Enum


class Mode(Enum):
    OK = "ok"
    REJECT = "reject"  # 422 with an OperationOutcome, nothing stored
    TOO_MANY = "429"  # 429 with Retry-After, nothing stored
    UNAVAILABLE = "503"  # 503, nothing stored
    SLOW = "timeout"  # store the transaction, then answer only after delay_s (past the client's timeout)


@dataclass(frozen=True)
class Fault:
    mode: Mode
    delay_s: float
    retry_after_s: int


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mode, self._delay_s, self._retry_after_s = Mode.OK, 0.0, 1
        self._left: int | None = None
        self.served: dict[str, int] = {}

    def set(self, mode: Mode, count: int | None = None, delay_s: float = 5.0, retry_after_s: int = 1) -> None:
        """Apply `mode` to the next `count` transactions (all, if None)."""
        with self._lock:
            self._mode, self._left, self._delay_s, self._retry_after_s = mode, count, delay_s, retry_after_s

    def next(self) -> Fault:
        with self._lock:
            mode = self._mode
            if self._left is not None:
                self._left -= 1
                if self._left <= 0:
                    self._mode, self._left = Mode.OK, None
            self.served[mode.value] = self.served.get(mode.value, 0) + 1
            return Fault(mode, self._delay_s, self._retry_after_s)
