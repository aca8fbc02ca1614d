"""Station faults (monitor disconnected, archive disk low, printer fault) and the alarm summary in state/1."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from central_hub.fleet import faults_of
from fetal_monitor_station.archive import Archive
from fetal_monitor_station.config import BedConfig
from fetal_monitor_station.health import DiskUsage, PrinterWatch, StationHealth
from fetal_monitor_station.publisher import Publisher
from fetal_monitor_station.report.printing import CupsPrinter, PrintError
from fetal_monitor_station.simulator import Simulator
from fetal_monitor_station.station import Station
from fetal_monitor_station.trace import CtgSample
from mch_link import schemas
from tests.fetal_monitor_station.helpers import FakeLink, steady, wait_for
from tests.fetal_monitor_station.test_station import PATIENT, T0, LowFhrPolicy
from tests.kiosk.a4printer.conftest import cupsd  # noqa: F401 - the shared cupsd fixture
from tests.support.processes import terminate

CLI = [sys.executable, "-m", "fetal_monitor_station.cli"]
MiB = 1024 * 1024


def _station(tmp_path: Path, beds: tuple[str, ...] = ("bed-01", "bed-02")) -> Station:
    return Station([BedConfig(b, str(tmp_path / b)) for b in beds], Archive(tmp_path / "archive.sqlite3"),
                   Publisher(FakeLink()), alarm_policy=LowFhrPolicy(), clock=lambda: T0)


def _print_fails(watch: PrinterWatch, tmp_path: Path) -> None:
    """A one-page PDF sent through the watch to a printer that cannot take it: the job fails."""
    from reportlab.pdfgen.canvas import Canvas

    pdf = tmp_path / "r.pdf"
    page = Canvas(str(pdf))
    page.drawString(100, 700, "CTG report (test)")
    page.save()
    with pytest.raises(PrintError):
        watch.print_pdf(pdf, "CTG test")


def _state_ok(faults: list[dict[str, Any]], alarms: dict[str, Any]) -> None:
    schemas.validate("state/1", {"event": "heartbeat", "bdseq": 0, "seq": 1, "faults": faults, "alarms": alarms})


class FlakyPrinter:
    queue = "ctg-a4"

    def __init__(self) -> None:
        self.fail = True

    def print_pdf(self, path: Path, title: str) -> int:
        if self.fail:
            raise PrintError("printer ctg-a4: job 7 did not print (media-empty)")
        return 8


def test_faults_follow_monitors_disk_and_printer(tmp_path: Path) -> None:
    st = _station(tmp_path)  # readers not started: both monitors disconnected
    free = {"bytes": 200 * MiB}
    printer = PrinterWatch(FlakyPrinter(), lambda: T0 + 5)
    health = StationHealth(st, st.archive.path, min_free_mb=512, printer=printer,
                           disk_usage=lambda _p: DiskUsage(10_000 * MiB, 0, free["bytes"]))
    faults = {f["code"]: f for f in health.faults()}
    assert faults["monitor-disconnected"]["detail"] == "2 bed(s): bed-01, bed-02"
    assert faults["monitor-disconnected"]["since_ms"] == int(T0 * 1000)
    assert faults["archive-disk-low"]["severity"] == "warning" and "200 MiB free" in faults["archive-disk-low"]["detail"]
    assert "printer-fault" not in faults
    with pytest.raises(PrintError):
        printer.print_pdf(tmp_path / "r.pdf", "CTG")
    free["bytes"] = 50 * MiB  # under a quarter of the minimum
    faults = {f["code"]: f for f in health.faults()}
    assert faults["archive-disk-low"]["severity"] == "critical"
    assert faults["printer-fault"]["detail"] == "ctg-a4: printer ctg-a4: job 7 did not print (media-empty)"
    assert faults["printer-fault"]["since_ms"] == int((T0 + 5) * 1000)
    _state_ok(health.faults(), health.alarm_summary())
    printer._printer.fail = False  # type: ignore[attr-defined]
    assert printer.print_pdf(tmp_path / "r.pdf", "CTG") == 8
    free["bytes"] = 600 * MiB
    assert [f["code"] for f in health.faults()] == ["monitor-disconnected"]
    st.archive.close()


def test_alarm_summary_counts_beds_in_alarm(tmp_path: Path) -> None:
    st = _station(tmp_path)
    health = StationHealth(st, st.archive.path, disk_usage=lambda _p: DiskUsage(1, 0, 10**12))
    assert health.alarm_summary() == {"beds_in_alarm": 0, "highest": "none"}
    st.admit("bed-01", PATIENT)
    for s in steady(4, t0_s=T0):
        st.process("bed-01", s)
    st.process("bed-01", CtgSample(T0 + 1, 90.0))
    assert health.alarm_summary() == {"beds_in_alarm": 1, "highest": "medium"}
    st.process("bed-01", CtgSample(T0 + 1.25, 140.0))
    assert health.alarm_summary() == {"beds_in_alarm": 0, "highest": "none"}
    st.archive.close()


@pytest.mark.integration
def test_a_report_that_cups_cannot_print_is_a_printer_fault(cupsd: str, tmp_path: Path) -> None:  # noqa: F811
    from kiosk.a4printer.simulator import SimulatedA4Printer  # the kiosk's ippeveprinter test double

    sim = SimulatedA4Printer(tmp_path / "printer", server=cupsd, queue_prefix="mchctg")
    try:
        sim.power_off()  # the job waits at CUPS and never prints
        st = _station(tmp_path)
        watch = PrinterWatch(CupsPrinter(sim.queue, cupsd, timeout_s=5), lambda: T0)
        health = StationHealth(st, st.archive.path, printer=watch, disk_usage=lambda _p: DiskUsage(1, 0, 10**12))
        _print_fails(watch, tmp_path)
        fault = next(f for f in health.faults() if f["code"] == "printer-fault")
        assert fault["detail"].startswith(f"{sim.queue}: printer {sim.queue}")
        st.archive.close()
    finally:
        sim.stop()


@pytest.fixture
def one_monitor(tmp_path: Path) -> Iterator[Simulator]:
    sim = Simulator(speed=1.0)
    sim.add("bed-01", steady(200_000, t0_s=0), tmp_path / "bed-01")
    sim.start()
    yield sim
    sim.stop()


@pytest.mark.integration
@pytest.mark.slow
def test_the_hubs_fleet_state_shows_the_stations_faults(site, enroll_device, broker, hub_factory,  # noqa: ANN001
                                                         one_monitor: Simulator, tmp_path: Path) -> None:
    bundle = enroll_device("station-01", "station")
    hub = hub_factory(site.path, broker=broker)
    cfg = tmp_path / "station.toml"
    cfg.write_text('station_id = "station-01"\narchive = "archive.sqlite3"\narchive_min_free_mb = 1e9\n'
                   f'[link]\nbundle = "{bundle}"\noutbox = "outbox.sqlite3"\nbroker = "{broker.host}:{broker.port}"\n'
                   'heartbeat_s = 1\n'
                   f'[[beds]]\nid = "bed-01"\nurl = "{tmp_path / "bed-01"}"\n'
                   f'[[beds]]\nid = "bed-02"\nurl = "{tmp_path / "no-such-monitor"}"\n')
    station = subprocess.Popen([*CLI, "run", "--config", str(cfg), "--no-view"], stderr=subprocess.PIPE, text=True)
    store = hub.store()
    try:
        def row() -> Any:
            return next((r for r in store.fleet_rows() if r.device_id == "station-01"), None)

        def faults() -> dict[str, dict[str, Any]]:
            return {f["code"]: f for f in faults_of(row())}

        assert wait_for(lambda: faults().get("monitor-disconnected", {}).get("detail") == "1 bed(s): bed-02", 60), \
            faults()
        low = faults()["archive-disk-low"]
        assert low["severity"] == "critical" and "MiB free" in low["detail"]
        assert row().online and (row().alarm_beds, row().alarm_highest) == (0, "none")
        one_monitor.stop()  # bed-01's monitor unplugged
        assert wait_for(lambda: faults().get("monitor-disconnected", {}).get("detail") == "2 bed(s): bed-01, bed-02",
                        60), faults()
    finally:
        store.close()
        terminate(station, 20)


@pytest.mark.integration
@pytest.mark.slow
def test_a_report_that_did_not_print_shows_in_the_fleet_state(site, enroll_device, broker, hub_factory,  # noqa: ANN001
                                                               cupsd: str, tmp_path: Path) -> None:  # noqa: F811
    """The station's link reports the printer fault to the hub: CUPS job on a printer that is off."""
    from kiosk.a4printer.simulator import SimulatedA4Printer
    from mch_link.device import DeviceLink

    bundle = enroll_device("station-01", "station")
    hub = hub_factory(site.path, broker=broker)
    sim = SimulatedA4Printer(tmp_path / "printer", server=cupsd, queue_prefix="mchctg")
    link = DeviceLink.from_bundle(bundle, tmp_path / "outbox.sqlite3", broker=(broker.host, broker.port),
                                  heartbeat_s=0.5)
    st = _station(tmp_path, ("bed-01",))
    watch = PrinterWatch(CupsPrinter(sim.queue, cupsd, timeout_s=5), lambda: T0)
    health = StationHealth(st, st.archive.path, printer=watch, disk_usage=lambda _p: DiskUsage(1, 0, 10**12))
    link.faults, link.alarm_summary = health.faults, health.alarm_summary
    store = hub.store()
    link.start()
    try:
        def codes() -> list[str]:
            row = next((r for r in store.fleet_rows() if r.device_id == "station-01"), None)
            return sorted(f["code"] for f in faults_of(row))

        assert wait_for(lambda: codes() == ["monitor-disconnected"], 60), codes()
        sim.power_off()
        _print_fails(watch, tmp_path)
        assert wait_for(lambda: codes() == ["monitor-disconnected", "printer-fault"], 60), codes()
    finally:
        link.stop()
        store.close()
        sim.stop()
        st.archive.close()
