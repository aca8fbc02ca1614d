"""Small shared helpers for the station tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fetal_monitor_station.trace import CtgSample
from mch_link import schemas
from mch_link.errors import OutboxError
from mch_link.topics import Kind


def wait_for(cond: Callable[[], bool], timeout_s: float = 10.0, step_s: float = 0.02) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step_s)
    return cond()


class FakeLink:
    """Validates like the real link, keeps records in memory, can be told to fail."""

    def __init__(self) -> None:
        self.records: list[tuple[Kind, str, dict[str, Any], int | None]] = []
        self.fail = False

    def submit(self, kind: Kind, schema: str, body: dict[str, Any], made_at_ms: int | None = None) -> int:
        schemas.validate(schema, body)
        if self.fail:
            raise OutboxError("disk full (fake)")
        self.records.append((kind, schema, body, made_at_ms))
        return len(self.records)

    def of(self, schema: str) -> list[dict[str, Any]]:
        return [r[2] for r in self.records if r[1] == schema]


def steady(n: int, fhr: float = 140.0, t0_s: float = 0.0) -> list[CtgSample]:
    return [CtgSample(t0_s + i / 4, fhr + (i % 7), None, 85.0, 20.0 + i % 11, i % 37 == 0, i % 101 == 0)
            for i in range(n)]
