"""A shift on the ward, through the nurse station's controller (what the screens call), with
simulated monitors on ptys, the real station engine, the real broker and hub, and CUPS:
admit, a bradycardia alarm on screen, acknowledged by a nurse (audited, delivered to the hub),
a monitor unplugged (offline tile), the hub going down (banner) and back, a report printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from fetal_monitor_station.episodes import Patient
from fetal_monitor_station.report.printing import CupsPrinter
from fetal_monitor_station.sources.synthetic import Span
from fetal_monitor_station.ui.overview import STATE_MONITORING, STATE_OFFLINE, STATE_UNIDENTIFIED
from mch_link.device import DeviceLink
from tests.fetal_monitor_station.helpers import wait_for
from tests.kiosk.a4printer.conftest import cupsd  # noqa: F401 - the shared cupsd fixture
from tests.support.hub import HubFactory

from .ward import TRACE_S, build_ward

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DEVICE = "station-01"
BEDS = {
    "bed-01": (Patient("H30001", "吴倩", 40, 2), {"bradycardia": (Span(60.0, TRACE_S, 92.0),)}),
    "bed-02": (None, {}),  # monitor on, woman not admitted yet
    "bed-03": (Patient("H30003", "郑洁", 38, 0), {}),
}


@pytest.fixture
def printer(cupsd: str, tmp_path: Path):  # noqa: F811 - cupsd is the fixture imported above
    from kiosk.a4printer.simulator import SimulatedA4Printer  # the kiosk's ippeveprinter test double

    p = SimulatedA4Printer(tmp_path / "printer", server=cupsd, queue_prefix="mchctg")
    yield p
    p.stop()


def test_a_shift_on_the_ward(site, enroll_device, broker, hub_factory: HubFactory, printer,  # noqa: ANN001
                             tmp_path: Path) -> None:
    bundle = enroll_device(DEVICE, "station")
    hub = hub_factory(site.path, broker=broker)
    link = DeviceLink.from_bundle(bundle, tmp_path / "outbox.sqlite3", broker=(broker.host, broker.port))
    link.start()
    ward = build_ward(tmp_path / "ward", hub=link, beds=BEDS, history_s=11 * 60, link=link,
                      printer=CupsPrinter(printer.queue, printer.server))
    nurse = ward.nurse
    try:
        assert wait_for(lambda: nurse.refresh().hub.state == "connected", 30)

        # admit the woman on bed-02: the unidentified trace becomes hers, nothing cut (a monitor
        # reads as offline until its reader has connected, just after the station starts)
        def bed_02_state() -> str:
            return {t.bed_id: t.state for t in nurse.refresh().page.tiles}["bed-02"]

        assert wait_for(lambda: bed_02_state() == STATE_UNIDENTIFIED, 30), bed_02_state()
        nurse.nurse_id = "N0042"
        before = ward.station.book.current("bed-02")
        ep2 = nurse.admission.admit("bed-02", "H30002", "冯雪", "39+2", nurse.nurse_id)
        assert before is not None and ep2.episode_id == before.episode_id
        tiles = {t.bed_id: t for t in nurse.refresh().page.tiles}
        assert tiles["bed-02"].state == STATE_MONITORING and tiles["bed-02"].patient == "冯* H30002"

        # bradycardia on bed-01: on screen first, enlarged, sounding
        def brady():
            nurse.refresh()
            return next((a for a in nurse.board.for_bed("bed-01") if a.kind == "bradycardia"), None)

        assert wait_for(lambda: brady() is not None, 60)
        snap = nurse.refresh()
        assert snap.page.tiles[0].bed_id == "bed-01" and snap.page.tiles[0].enlarged
        assert snap.audio_priority >= 2
        alarm = brady()
        assert alarm is not None and alarm.acked_by is None

        # acknowledged by the nurse: engine, audit, hub
        nurse.acknowledge(alarm.alarm_id)
        assert nurse.board.get(alarm.alarm_id).acked_by == "N0042"  # type: ignore[union-attr]
        audit = [e for e in ward.journal.audit_entries("bed-01") if e.action == "alarm_acknowledge"]
        assert audit and audit[-1].nurse_id == "N0042" and audit[-1].detail["alarm_id"] == alarm.alarm_id
        assert ward.journal.verify() is None
        acks = [(b, i) for b, i in ward.link.of("alarm/1") if b["event"] == "acknowledged"]
        assert acks and acks[-1][0]["nurse_id"] == "N0042" and acks[-1][0]["alarm_id"] == alarm.alarm_id

        # bed-03's monitor unplugged: the tile stays, offline since hh:mm
        ward.sim.monitors[2].port.unplug()
        assert wait_for(lambda: {t.bed_id: t.state for t in nurse.refresh().page.tiles}["bed-03"] == STATE_OFFLINE,
                        20)
        offline = {t.bed_id: t for t in nurse.refresh().page.tiles}["bed-03"]
        assert offline.offline_since and offline.fhr1 is None

        # a report of bed-01's last 10 minutes, printed through CUPS, archived, recorded
        end = nurse._clock()
        ep1 = ward.station.book.current("bed-01")
        assert ep1 is not None
        result = nurse.print_report(ep1, end - 600, end)
        assert result.job_id is not None and result.pdf_path.is_file()
        assert wait_for(lambda: any(printer.out_dir.iterdir()), 30), "the printer never got the job"
        (report_body, report_msg), = ward.link.of("ctg-report/1")
        assert report_body["sha256"] == result.sha256 and report_body["printed"] is True

        # the hub's broker goes down: banner; the station records on; back up: delivered
        broker.stop()
        assert wait_for(lambda: nurse.refresh().hub.state == "down", 30)
        assert nurse.refresh().hub.since
        broker.start()
        assert wait_for(lambda: nurse.refresh().hub.state == "connected", 60)
        wanted = {acks[-1][1], report_msg} | {i for b, i in ward.link.of("episode/1") if b["event"] == "admitted"}

        def delivered() -> bool:
            store = hub.store()
            try:
                return wanted <= set(store.record_ids(DEVICE))
            finally:
                store.close()

        assert wait_for(delivered, 60), "the acknowledgement, admission or report never reached the hub"
    finally:
        ward.stop()
        link.stop()
