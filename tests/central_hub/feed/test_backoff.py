"""Backoff: exponential with jitter within known bounds, capped, Retry-After honoured."""

from __future__ import annotations

import random

import pytest

from central_hub.feed.backoff import Backoff


def test_delays_grow_within_the_jitter_band_and_stop_at_the_cap() -> None:
    b = Backoff(base_s=1.0, cap_s=60.0, rng=random.Random(7))
    for attempts in range(1, 40):
        step = min(60.0, 2 ** (attempts - 1))
        delays = [b.delay_s(attempts) for _ in range(200)]
        assert all(step / 2 <= d <= step for d in delays)
        assert max(delays) - min(delays) > step / 4  # jittered, not a fixed value
    assert b.delay_s(10_000) <= 60.0


def test_retry_after_is_a_floor_but_not_past_the_cap() -> None:
    b = Backoff(base_s=1.0, cap_s=30.0, rng=random.Random(1))
    assert b.delay_s(1, retry_after_s=12) == 12
    assert b.delay_s(1, retry_after_s=3600) == 30.0


def test_bad_policy_is_refused() -> None:
    with pytest.raises(ValueError):
        Backoff(base_s=0)
