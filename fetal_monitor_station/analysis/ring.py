"""Fixed-length ring buffer addressed by absolute sample index (bounded memory per bed)."""

from __future__ import annotations

import numpy as np

from ..trace import FloatArray


class Ring:
    def __init__(self, length: int) -> None:
        self.length = length
        self.data = np.full(length, np.nan)

    def put(self, i: int, value: float) -> None:
        self.data[i % self.length] = value

    def put_range(self, a: int, values: FloatArray) -> None:
        n = values.size
        if n == 0:
            return
        s = a % self.length
        first = min(n, self.length - s)
        self.data[s:s + first] = values[:first]
        if first < n:
            self.data[: n - first] = values[first:]

    def get(self, a: int, b: int) -> FloatArray:
        """Copy of samples [a, b); the caller keeps b - a <= length and a within the ring."""
        n = b - a
        if n <= 0:
            return np.empty(0)
        s = a % self.length
        if s + n <= self.length:
            return self.data[s:s + n].copy()
        return np.concatenate((self.data[s:], self.data[: n - (self.length - s)]))
