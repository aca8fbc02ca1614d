"""When to try again: exponential backoff with jitter, capped, and the server's Retry-After honoured.

Pure (the random source is handed in), so tests can hold it to its bounds. A county that is down
for hours is tried at most every `cap_s` seconds and never given up on: retryable failures
(network errors, timeouts, 429, 5xx) never make a dead letter.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    base_s: float = 1.0
    cap_s: float = 300.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.base_s <= self.cap_s:
            raise ValueError("backoff: want 0 < base <= cap")

    def delay_s(self, attempts: int, retry_after_s: float | None = None) -> float:
        """Wait before the next attempt after `attempts` failed ones (>= 1): "equal jitter", half of
        the exponential step fixed and half random, so many hubs coming back do not retry in step."""
        step = min(self.cap_s, self.base_s * 2 ** min(max(attempts, 1) - 1, 30))
        delay = step / 2 + self.rng.uniform(0, step / 2)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.cap_s))
        return delay
