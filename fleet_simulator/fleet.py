"""N simulated devices, each with its own enrolment bundle, outbox and MQTT session.

Each device produces `sim/1` records (one second of CTG-sized data) through the same
`DeviceLink` a kiosk or station uses, so the benchmarks and `make run` exercise the real path.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mch_link.device import DeviceLink
from mch_link.topics import Kind

SCHEMA = "sim/1"


def sim_record(seq: int) -> dict[str, Any]:
    """Deterministic plausible values: FHR wandering around 140 bpm, TOCO around 15."""
    return {"seq": seq, "fhr_bpm": [135 + (seq + i) % 11 for i in range(4)], "toco": [10 + (seq * 3 + i) % 40 for i in range(4)]}


@dataclass
class DeviceSim:
    link: DeviceLink
    seq: int = 0

    def produce(self, n: int) -> list[int]:
        bodies = [sim_record(self.seq + i) for i in range(n)]
        self.seq += n
        return self.link.submit_many(Kind.CTG, SCHEMA, bodies)


class Fleet:
    def __init__(self, bundles: Sequence[Path], state_dir: Path, **link_kwargs: Any) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.devices = [
            DeviceSim(DeviceLink.from_bundle(b, state_dir / f"{Path(b).name}.outbox.sqlite3", **link_kwargs))
            for b in bundles
        ]

    def start(self) -> None:
        for d in self.devices:
            d.link.start()

    def stop(self) -> None:
        for d in self.devices:
            d.link.stop()

    def produce(self, per_device: int) -> int:
        for d in self.devices:
            d.produce(per_device)
        return per_device * len(self.devices)

    def run_rate(self, records_per_s: float, duration_s: float, tick_s: float = 0.1) -> int:
        """Produce at a steady total rate, spread over the devices; returns records produced."""
        produced = 0
        start = time.monotonic()
        cycle = itertools.cycle(self.devices)
        while (elapsed := time.monotonic() - start) < duration_s:
            due = int(records_per_s * elapsed) - produced
            for _ in range(max(0, due)):
                next(cycle).produce(1)
            produced += max(0, due)
            time.sleep(tick_s)
        return produced

    def depth(self) -> int:
        return sum(d.link.depth() for d in self.devices)

    def wait_drained(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.depth() == 0:
                return True
            time.sleep(0.1)
        return self.depth() == 0
