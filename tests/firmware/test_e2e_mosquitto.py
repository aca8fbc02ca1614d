"""End to end: the CTG bridge on the MicroPython unix port, its monitor on a pseudo-terminal,
publishing over mTLS through the real Mosquitto (project config) into the real hub store.

It survives a broker restart and a power cut between the log append and the commit marker:
every record the bridge committed is stored exactly once, the torn one never appears, and no
record id is reused. Records are the bridge's own bridge-ctg/1, validated by the hub.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mchfw.counters import Counters
from mchfw.outbox import Outbox

from fetal_monitor_station.monitor import corometrics as station
from tests.firmware.conftest import MICROPYTHON, mp_env
from tests.support.hub import wait_for_records

DEVICE = "bridge-ctg-001"
FEED_HZ = 4
WAIT_S = 40


class Monitor:
    """A monitor on the master side of a pty: HR1 + UA frames at 4 Hz until stopped."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        self.path = os.ttyname(self.slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(1 / FEED_HZ):
            n += 1
            try:
                os.write(self.master, station.hr_frame(1, 120 + n % 30) + station.ua_frame(n % 100))
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        os.close(self.master)
        os.close(self.slave)


class Bridge:
    def __init__(self, bundle: Path, state: Path, uart: str) -> None:
        self.bundle, self.state, self.uart = bundle, state, uart
        self.proc: subprocess.Popen[str] | None = None
        self.outputs: list[str] = []
        self.log = state.parent / "bridge.log"

    def start(self) -> None:
        self.state.mkdir(exist_ok=True)
        self._out = open(self.log, "a")  # noqa: SIM115 - the child writes it
        self.proc = subprocess.Popen([str(MICROPYTHON), "-X", "heapsize=2M", "-m", "mchfw.app", str(self.bundle),
                                      str(self.state), self.uart], stdout=self._out, stderr=subprocess.STDOUT,
                                     text=True, env=mp_env())

    def wait_exit(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc is not None:
            self._out.close()

    def committed(self) -> list[int]:
        return [int(x) for x in re.findall(r"^commit (\d+)$", self.log.read_text(), re.M)]


def _bundle(src: Path, dst: Path, port: int, **extra: object) -> Path:
    shutil.copytree(src, dst, dirs_exist_ok=True)
    cfg = json.loads((dst / "config.json").read_text())
    cfg.update(broker_port=port, broker_tls_name="localhost",
               bridge={"trace": True, "heartbeat_ms": 5000}, **extra)
    (dst / "config.json").write_text(json.dumps(cfg))
    return dst


def _fleet_row(hub, done):
    deadline = time.monotonic() + WAIT_S
    while True:
        store = hub.store()
        try:
            row = next((r for r in store.fleet_rows() if r.device_id == DEVICE), None)
        finally:
            store.close()
        if done(row) or time.monotonic() > deadline:
            return row
        time.sleep(0.2)


@pytest.fixture
def monitor() -> Iterator[Monitor]:
    m = Monitor()
    yield m
    m.close()


@pytest.mark.integration
@pytest.mark.slow
def test_bridge_through_mosquitto_into_hub(site, broker, hub_factory, monitor: Monitor, tmp_path: Path) -> None:
    enrolled = site.enroll(DEVICE, "bridge").bundle
    hub = hub_factory(site.path, broker=broker)
    bundle = _bundle(enrolled, tmp_path / "bundle", broker.port)
    state = tmp_path / "state"
    bridge = Bridge(bundle, state, monitor.path)
    bridges = [bridge]
    try:
        bridge.start()
        assert wait_for_records(hub.db_url, 3, WAIT_S, DEVICE) >= 3, bridge.log.read_text()[-3000:]

        broker.restart()  # the broker goes away and comes back; the bridge reconnects on its own
        before = len(bridge.committed())
        assert wait_for_records(hub.db_url, before + 3, WAIT_S, DEVICE) >= before + 3, bridge.log.read_text()[-3000:]

        # Power cut between the log append and the commit marker of the 3rd batch of a new boot.
        bridge.stop()
        cut_bundle = _bundle(enrolled, tmp_path / "bundle-cut", broker.port, hw={"cut_before_commit_at": 3})
        cut = Bridge(cut_bundle, state, monitor.path)
        cut.log = tmp_path / "bridge-cut.log"
        bridges.append(cut)
        cut.start()
        assert cut.wait_exit(WAIT_S) != 0  # the "power" went while batch 3 was being appended
        assert len(cut.committed()) == 2

        again = Bridge(bundle, state, monitor.path)
        again.log = tmp_path / "bridge-again.log"
        bridges.append(again)
        again.start()
        committed = bridge.committed() + cut.committed()
        time.sleep(3)
        committed_now = committed + again.committed()
        wait_for_records(hub.db_url, len(committed_now), WAIT_S, DEVICE)
        store = hub.store()
        try:
            stored = store.record_ids(DEVICE)
            held = store.quarantine_rows()
        finally:
            store.close()
        assert not held, held  # every bridge-ctg/1 and state/1 message passed the hub's checks
        assert len(stored) == len(set(stored))  # exactly once
        assert set(committed_now) <= set(stored), (sorted(set(committed_now) - set(stored)), stored)
        assert len(set(committed)) == len(committed)  # no id handed out twice, across boots
        torn = max(cut.committed()) + 1
        assert torn not in stored and torn not in again.committed()  # the torn record never existed
        # The hub's acknowledgements (ack/1, downlink key) emptied the flash outbox up to the newest records.
        again.stop()
        left = [row[0] for row in Outbox(str(state / "flash" / "outbox"),
                                         Counters(str(state / "flash" / "counters"))).pending(0, 10000)]
        assert set(left) <= set(again.committed()[-3:]), (left, again.committed()[-3:])  # only acks in flight
        # Fleet state: births on every connect, and the will (death) once the "power" is gone.
        row = _fleet_row(hub, lambda r: r is not None and not r.online)
        assert row is not None and not row.online, row
        assert row.births >= 3 and row.kind == "bridge" and row.firmware == "mchfw/0.1.0", row
    finally:
        for b in bridges:
            b.stop()
