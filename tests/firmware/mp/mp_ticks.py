"""Across the wrap of time.ticks_ms (MicroPython only: CPython has no wrapping ticks)."""

import time

from mchfw import clock
from mp_bridge import Monitor, SimClock, _rig, _run

PERIOD = time.ticks_add(0, -1) + 1  # type: ignore[attr-defined]  # the port's ticks period (2**30 on MicroPython ports)


class WrappingClock(SimClock):
    """Simulated time whose ticks start 2 s before the wrap."""

    def ticks(self):
        return time.ticks_add(PERIOD - 2000, self.t)


def test_diff_and_add_across_the_wrap(tmp):
    a = time.ticks_add(PERIOD - 100, 0)
    b = clock.add(a, 300)
    assert b < a and clock.diff(b, a) == 300 and clock.diff(a, b) == -300


def test_bridge_batches_across_the_wrap(tmp):
    board, box, clk, brokers, bridge, wdt = _rig(tmp)
    wrapping = WrappingClock()
    bridge.clock = wrapping
    bridge.uart = Monitor(wrapping)
    bridge.batch_start = wrapping.ticks()
    bridge.link.clock = wrapping
    _run(bridge, wrapping, 6000)
    assert 5 <= box.depth() <= 6  # one record per second before, across and after the wrap
