"""The A4 CTG report: made from the archive of a real Station, archived with the episode, recorded
in the journal and sent as ctg-report/1; rendered by pdftoppm and measured: 1 cm/min and 3 cm/min
within 1 %, the FHR strip 8 cm, a 2-minute gap printed as a gap."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from fetal_monitor_station.archive.store import Archive, ArchiveReader
from fetal_monitor_station.config import BedConfig
from fetal_monitor_station.episodes import Patient
from fetal_monitor_station.nurse_journal import NurseJournal
from fetal_monitor_station.publisher import Publisher
from fetal_monitor_station.report.service import ReportService
from fetal_monitor_station.sources.synthetic import SyntheticSpec, generate
from fetal_monitor_station.station import Station
from fetal_monitor_station.trace import CtgSample
from fetal_monitor_station.ui.fonts import cjk_font

from ..helpers import FakeLink
from .ppm import Image, fhr_strip, heavy_verticals, trace_gaps

REPO = Path(__file__).resolve().parents[3]
ARTEFACTS = REPO / "build" / "screenshots" / "station-report"
T0 = 1_780_000_020.0  # a whole minute, so heavy lines fall on sample times
GAP = (240.0, 360.0)  # seconds after T0 without any sample
DPI = 200
PX_PER_MM = DPI / 25.4


class Clock:
    now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("report")
    clock = Clock()
    link = FakeLink()
    station = Station([BedConfig("bed-02", str(tmp / "bed-02"))], Archive(tmp / "archive.sqlite3"), Publisher(link),
                      clock=clock)
    station.admit("bed-02", Patient("H20002", "李娜", 39, 1))
    trace = generate(SyntheticSpec(duration_s=1800.0, seed=11, decel_types=("late",)))[0]
    for s in trace.samples():
        if not GAP[0] <= s.t_s < GAP[1]:
            clock.now = T0 + s.t_s
            station.process("bed-02", CtgSample(T0 + s.t_s, s.fhr1_bpm, None, None, s.toco, s.movement, s.mark))
    station.archive.flush()
    journal = NurseJournal(tmp / "nurse.sqlite3", clock)
    ep = station.book.current("bed-02")
    assert ep is not None
    journal.add_note(ep.episode_id, "bed-02", "N0042", "左侧卧位 left lateral", int((T0 + 100) * 1000))
    for at, event, nurse in ((T0 + 400, "raised", None), (T0 + 470, "acknowledged", "N0042")):
        journal.add_alarm_event("bed-02", ep.episode_id, "a-1", "bradycardia", event, 2, nurse, int(at * 1000))
    journal.add_alarm_event("bed-02", ep.episode_id, "a-0", "tachycardia", "raised", 2, None, int((T0 - 60) * 1000))
    service = ReportService("station-01", tmp / "reports", lambda: ArchiveReader(tmp / "archive.sqlite3"), journal,
                            station, cjk_font(), clock=clock)
    out = {"link": link, "journal": journal, "ep": ep}
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    for speed in (1, 3):
        result = service.make(ep, T0, T0 + 1800.0, "N0042", speed_cm_min=speed)
        png_prefix = ARTEFACTS / f"report-{speed}cm"
        subprocess.run(["pdftoppm", "-r", "80", "-png", str(result.pdf_path), str(png_prefix)], check=True,
                       timeout=60)
        ppm_prefix = tmp / f"page-{speed}"
        subprocess.run(["pdftoppm", "-r", str(DPI), "-f", "2", "-l", "2", str(result.pdf_path), str(ppm_prefix)],
                       check=True, timeout=60)
        (ppm,) = sorted(tmp.glob(f"page-{speed}*.ppm"))
        text = subprocess.run(["pdftotext", "-layout", str(result.pdf_path), "-"], capture_output=True, text=True,
                              check=True, timeout=60).stdout
        out[speed] = {"result": result, "image": Image(ppm), "text": text}
    return out


@pytest.mark.parametrize("speed", [1, 3])
def test_one_minute_measures_speed_cm_within_one_percent(made: dict, speed: int) -> None:
    img = made[speed]["image"]
    strip = fhr_strip(img)
    lines = heavy_verticals(img, strip)
    assert len(lines) >= (8 if speed == 3 else 25), lines  # interior minute lines (the ends are borders)
    spacing_mm = (lines[-1] - lines[0]) / (len(lines) - 1) / PX_PER_MM
    assert spacing_mm == pytest.approx(10.0 * speed, rel=0.01)
    width_mm = (strip[1] - strip[0]) / PX_PER_MM
    assert width_mm == pytest.approx(270.0, rel=0.01)
    height_mm = (strip[3] - strip[2]) / PX_PER_MM
    assert height_mm == pytest.approx(80.0, rel=0.01)  # 160 bpm at 20 bpm/cm


@pytest.mark.parametrize("speed", [1, 3])
def test_the_gap_is_printed_as_a_gap(made: dict, speed: int) -> None:
    img = made[speed]["image"]
    gaps = [(b - a + 1) / PX_PER_MM for a, b in trace_gaps(img, fhr_strip(img))]
    expected_mm = (GAP[1] - GAP[0]) / 60.0 * 10.0 * speed
    assert any(g == pytest.approx(expected_mm, abs=1.0) for g in gaps), (gaps, expected_mm)


def test_report_pages_archive_record_and_journal(made: dict) -> None:
    r3 = made[3]["result"]
    assert r3.pages == 1 + 4  # summary + 30 min at 9 min per page
    assert made[1]["result"].pages == 1 + 2
    data = r3.pdf_path.read_bytes()
    assert data.startswith(b"%PDF") and hashlib.sha256(data).hexdigest() == r3.sha256
    assert r3.pdf_path.parent.name == f"episode-{made['ep'].episode_id}"
    (body3,) = [b for b in made["link"].of("ctg-report/1") if b["paper_speed_cm_min"] == 3]
    assert body3["sha256"] == r3.sha256 and body3["pages"] == 5 and body3["patient_id"] == "H20002"
    assert body3["printed"] is False and body3["nurse_id"] == "N0042"
    assert [e.detail["report_id"] for e in made["journal"].audit_entries() if e.action == "report"] == [
        made[1]["result"].report_id, r3.report_id]
    assert len(made["journal"].reports(made["ep"].episode_id)) == 2


def test_report_text_patient_analysis_alarms_notes_signatures(made: dict) -> None:
    text = made[3]["text"]
    for expected in ("李娜", "H20002", "39+1", "3 cm/min", "FIGO", "NICHD", "bradycardia raised",
                     "bradycardia acknowledged (N0042)", "左侧卧位", "监护护士 Nurse", "医师 Physician"):
        assert expected in text, expected
    assert "tachycardia" not in text  # before the segment: not in this report
    assert "1 cm/min" in made[1]["text"]
