"""Discharge outcomes produce the county feed's records: delivered -> delivery/1, an antenatal NST
-> antenatal-visit/1 (with the analysis' FHR baseline), through the outbox to the hub's store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import cbor2
import pytest

from central_hub.datakey import load_or_create
from central_hub.store.model import record_aad
from fetal_monitor_station.adapters import make_hooks
from fetal_monitor_station.admission import AdmissionService
from fetal_monitor_station.archive import Archive
from fetal_monitor_station.config import BedConfig
from fetal_monitor_station.county_records import ANTENATAL, DELIVERED, OTHER, DischargeForm
from fetal_monitor_station.errors import EpisodeError
from fetal_monitor_station.nurse_journal import NurseJournal
from fetal_monitor_station.publisher import Publisher
from fetal_monitor_station.sources.synthetic import SyntheticSpec, generate
from fetal_monitor_station.station import Station
from fetal_monitor_station.trace import CtgSample
from mch_link.device import DeviceLink
from tests.fetal_monitor_station.helpers import FakeLink, steady

T0 = dt.datetime(2026, 11, 30, 9, 0).timestamp()
DAY_S = 86400.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class BaselineAnalyzer:
    """Says 'classified' every 40 samples, like the streaming analysis' classification events."""

    def __init__(self) -> None:
        self.n = 0

    def push(self, sample: CtgSample) -> list[Any]:
        self.n += 1
        return ["classified"] if self.n % 40 == 0 else []


def _classified(_event: Any) -> dict[str, Any]:
    return {"figo": "normal", "nichd": "I", "nst": "reactive", "reasons": [], "window_start_s": 0.0,
            "window_end_s": 10.0, "baseline_bpm": 137.6, "variability_bpm": 9.0}


def _setup(tmp_path: Path, link: Any, **kw: Any) -> tuple[Station, AdmissionService, NurseJournal, Clock]:
    clock = Clock()
    station = Station([BedConfig(b, str(tmp_path / b)) for b in ("bed-01", "bed-02")],
                      Archive(tmp_path / "archive.sqlite3"), Publisher(link), clock=clock, **kw)
    journal = NurseJournal(tmp_path / "nurse.sqlite3", clock)
    return station, AdmissionService(station, journal, clock, "station-01"), journal, clock


def test_delivered_discharge_sends_delivery_1(tmp_path: Path) -> None:
    link = FakeLink()
    station, svc, journal, clock = _setup(tmp_path, link)
    ep = svc.admit("bed-01", "H20001", "周婷", "39+2", "N0042")
    clock.now = T0 + 2 * DAY_S  # delivered two days after admission
    svc.discharge("bed-01", "N0043", DischargeForm(DELIVERED, "PR2026-0001", "", "1", True))
    (body,) = link.of("delivery/1")
    assert body == {"record_id": "PR2026-0001", "patient_id": "H20001", "delivery_date": "2026-12-02",
                    "ga_days": 39 * 7 + 2 + 2, "live_births": 1, "in_facility": True}
    audit = journal.audit_entries("bed-01")[-1]
    assert (audit.action, audit.detail["outcome"], audit.detail["record"], audit.detail["episode_id"]) == \
        ("discharge", "delivered", "delivery/1", ep.episode_id)
    ep2 = svc.admit("bed-02", "H20002", "吴倩", "40", "N0042")  # on 12-02 at 40+0
    clock.now += 2 * DAY_S  # the form is filled in on 12-04 for a delivery on 12-03
    svc.discharge("bed-02", "N0043", DischargeForm(DELIVERED, "PR2026-0002", "2026-12-03", "2", False))
    assert link.of("delivery/1")[1]["delivery_date"] == "2026-12-03" and link.of("delivery/1")[1]["ga_days"] == 281
    assert link.of("delivery/1")[1]["in_facility"] is False
    assert ep2.episode_id != ep.episode_id and link.of("delivery/1")[1]["live_births"] == 2
    station.archive.close()


def test_antenatal_nst_sends_a_visit_with_the_analysis_baseline(tmp_path: Path) -> None:
    link = FakeLink()
    station, svc, _, _ = _setup(tmp_path, link, analyzer_factory=lambda _b, _e: BaselineAnalyzer(),
                                classification_of=_classified)
    ep = svc.admit("bed-01", "H20003", "陈静", "34+5", "N0042")
    for s in steady(80, t0_s=T0):
        station.process("bed-01", s)
    assert station.baseline_bpm("bed-01") == pytest.approx(137.6)
    svc.discharge("bed-01", "N0043", DischargeForm(ANTENATAL, "PR2026-0003", systolic_mmhg="118",
                                                   diastolic_mmhg="76", weight_kg="68.45"))
    (body,) = link.of("antenatal-visit/1")
    assert body == {"visit_id": f"station-01-ep{ep.episode_id}", "record_id": "PR2026-0003", "patient_id": "H20003",
                    "visit_date": "2026-11-30", "ga_days": 34 * 7 + 5, "systolic_mmhg": 118, "diastolic_mmhg": 76,
                    "weight_kg": 68.5, "fhr_bpm": 138}
    assert station.baseline_bpm("bed-01") is None  # the next patient's visit does not inherit it
    svc.admit("bed-01", "H20004", "刘芳", "36", "N0042")
    svc.discharge("bed-01", "N0043", DischargeForm(ANTENATAL, "PR2026-0004"))
    assert "fhr_bpm" not in link.of("antenatal-visit/1")[1] and "systolic_mmhg" not in link.of("antenatal-visit/1")[1]
    station.archive.close()


@pytest.mark.parametrize(("form", "message"), [
    (DischargeForm(DELIVERED, ""), "pregnancy record number"),
    (DischargeForm(DELIVERED, "PR 1"), "pregnancy record number"),
    (DischargeForm(DELIVERED, "PR1", "2026-13-01"), "delivery date"),
    (DischargeForm(DELIVERED, "PR1", "2027-01-01"), "future"),
    (DischargeForm(DELIVERED, "PR1", live_births="9"), "live births"),
    (DischargeForm(ANTENATAL, "PR1", systolic_mmhg="120"), "both systolic and diastolic"),
    (DischargeForm(ANTENATAL, "PR1", systolic_mmhg="70", diastolic_mmhg="90"), "below systolic"),
    (DischargeForm(ANTENATAL, "PR1", weight_kg="6"), "weight"),
    (DischargeForm("twins", "PR1"), "outcome"),
])
def test_a_bad_form_refuses_the_discharge_and_loses_nothing(tmp_path: Path, form: DischargeForm,
                                                            message: str) -> None:
    link = FakeLink()
    station, svc, _, _ = _setup(tmp_path, link)
    ep = svc.admit("bed-01", "H20005", "孙丽", "38", "N0042")
    with pytest.raises(EpisodeError, match=message):
        svc.discharge("bed-01", "N0043", form)
    assert station.book.current("bed-01") == ep  # still admitted: the nurse corrects the form
    assert [e["event"] for e in link.of("episode/1")] == ["admitted"]
    assert not link.of("delivery/1") and not link.of("antenatal-visit/1")
    station.archive.close()


def test_other_outcomes_and_unidentified_traces(tmp_path: Path) -> None:
    link = FakeLink()
    station, svc, _, _ = _setup(tmp_path, link)
    svc.admit("bed-01", "H20006", "赵敏", "38", "N0042")
    svc.discharge("bed-01", "N0043", DischargeForm(OTHER))
    station.process("bed-02", CtgSample(T0, 140.0))  # a trace nobody was admitted to
    with pytest.raises(EpisodeError, match="admit the patient"):
        svc.discharge("bed-02", "N0043", DischargeForm(DELIVERED, "PR1"))
    svc.discharge("bed-02", "N0043")
    assert not link.of("delivery/1") and not link.of("antenatal-visit/1")
    station.archive.close()


@pytest.mark.integration
@pytest.mark.slow
def test_records_reach_the_hub_store_through_the_outbox(site, enroll_device, broker, hub_factory,  # noqa: ANN001
                                                        tmp_path: Path) -> None:
    bundle = enroll_device("station-01", "station")
    hub = hub_factory(site.path, broker=broker)
    link = DeviceLink.from_bundle(bundle, tmp_path / "outbox.sqlite3", broker=(broker.host, broker.port))
    factory, classification_of, _ = make_hooks({})
    station, svc, _, clock = _setup(tmp_path, link, analyzer_factory=factory, classification_of=classification_of)
    svc.admit("bed-01", "H20007", "郑洁", "35+1", "N0042")
    svc.admit("bed-02", "H20008", "王小红", "39+6", "N0042")
    trace, _ = generate(SyntheticSpec(duration_s=1500, seed=11))
    for s in trace.samples():  # 25 minutes of NST through the real streaming analysis
        clock.now = T0 + s.t_s
        station.process("bed-01", CtgSample(T0 + s.t_s, s.fhr1_bpm, s.fhr2_bpm, s.mhr_bpm, s.toco))
    baseline = station.baseline_bpm("bed-01")
    assert baseline is not None, "the analysis classified the NST"
    svc.discharge("bed-01", "N0043", DischargeForm(ANTENATAL, "PR2026-0007", systolic_mmhg="110", diastolic_mmhg="70"))
    svc.discharge("bed-02", "N0043", DischargeForm(DELIVERED, "PR2026-0008"))
    link.start()
    try:
        assert link.wait_drained(60), f"outbox still holds {link.depth()} records"
    finally:
        link.stop()
        station.archive.close()
    store = hub.store()
    try:
        cipher = load_or_create(hub.state_dir)
        stored = {schema: cbor2.loads(cipher.open(key_id, nonce, sealed, record_aad("station-01", msg_id)))
                  for msg_id, schema, key_id, nonce, sealed in store.sealed_records("station-01")
                  if schema in ("antenatal-visit/1", "delivery/1")}
    finally:
        store.close()
    assert stored["antenatal-visit/1"]["fhr_bpm"] == round(baseline)
    assert (stored["antenatal-visit/1"]["record_id"], stored["antenatal-visit/1"]["systolic_mmhg"]) == ("PR2026-0007", 110)
    assert stored["delivery/1"] == {"record_id": "PR2026-0008", "patient_id": "H20008",
                                    "delivery_date": dt.date.fromtimestamp(clock.now).isoformat(),
                                    "ga_days": 39 * 7 + 6, "live_births": 1, "in_facility": True}
