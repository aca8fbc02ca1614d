"""Issue 10 on the bridge: a re-flashed board (its flash wiped, the same bundle put back) hands out
record ids 1, 2, ... again. The hub holds the first reused ones as `id-reused` and answers with the
ack's `floor` (the highest id it holds); the bridge must move its ids above it at once. Before, it
ignored the floor and every reused id up to the old mark was held instead of stored.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.firmware.test_e2e_mosquitto import DEVICE, WAIT_S, Bridge, Monitor, _bundle
from tests.support.hub import wait_for_records

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BEFORE = 12  # records stored before the board is re-flashed


def test_reflashed_bridge_goes_above_the_hubs_floor(site, broker, hub_factory, tmp_path: Path) -> None:
    enrolled = site.enroll(DEVICE, "bridge").bundle
    hub = hub_factory(site.path, broker=broker)
    bundle = _bundle(enrolled, tmp_path / "bundle", broker.port)
    state = tmp_path / "state"
    monitor = Monitor()
    first = Bridge(bundle, state, monitor.path)
    bridges = [first]
    try:
        first.start()
        assert wait_for_records(hub.db_url, BEFORE, WAIT_S, DEVICE) >= BEFORE, first.log.read_text()[-3000:]
        first.stop()
        store = hub.store()
        try:
            old_mark = max(store.record_ids(DEVICE))
        finally:
            store.close()

        shutil.rmtree(state / "flash")  # re-flashed: outbox and counters gone, the bundle (keys) the same
        again = Bridge(bundle, state, monitor.path)
        again.log = tmp_path / "bridge-again.log"
        bridges.append(again)
        again.start()
        deadline = time.monotonic() + WAIT_S
        above: list[int] = []
        while time.monotonic() < deadline and len(above) < 3:
            store = hub.store()
            try:
                above = [i for i in store.record_ids(DEVICE) if i > old_mark]
            finally:
                store.close()
            time.sleep(0.3)
        store = hub.store()
        try:
            held = [q for q in store.quarantine_rows(limit=1000) if q.reason == "id-reused"]
            stored = store.record_ids(DEVICE)
        finally:
            store.close()
        assert len(above) >= 3, (old_mark, stored, again.log.read_text()[-3000:])
        # only what was in flight before the first ack came back is held; the rest is stored above the floor
        assert 1 <= len(held) <= 3, [(q.reason, q.detail) for q in held]
        assert len(stored) == len(set(stored))
    finally:
        for b in bridges:
            b.stop()
        monitor.close()
