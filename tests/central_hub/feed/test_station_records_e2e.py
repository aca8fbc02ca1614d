"""The station's county records end to end, in the station's order: each episode's `episode/1`
(admitted) first, then `antenatal-visit/1` (an outpatient NST) and `delivery/1` (a delivered labour
episode), made by the station's own code, sent through the station's link ->
real Mosquitto -> the real hub -> the feed -> the county simulator, validated there. The patient is
one of the hub's patient index, so her Patient carries the county blind index, whichever record of
hers the county gets first (issue 15: the episode's Patient used to create her without it)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import time
from pathlib import Path
from typing import Any

import pytest

from central_hub.datakey import load_or_create
from central_hub.feed import codes, outbox
from central_hub.feed.blindindex import BlindIndex
from central_hub.feed.county import CountyClient
from central_hub.feed.patients import PatientIndexLookup
from central_hub.feed.sender import FeedSender
from central_hub.services.db import ServicesDb, services_db_url
from central_hub.services.dispatcher import Dispatcher
from central_hub.services.privacy import Privacy
from central_hub.store import open_store
from fetal_monitor_station.county_records import ANTENATAL, DELIVERED, DischargeForm, county_record
from fetal_monitor_station.episodes import Episode
from mch_link.device import DeviceLink
from mch_link.registry import load_site_info
from mch_link.topics import Kind
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.site import Site
from tests.central_hub.services.conftest import synthetic_id
from tests.support.county import CountyProcess
from tests.support.hub import HubFactory, wait_for_records

pytestmark = pytest.mark.integration
STATION = "station-1"
KEY = bytes(range(3, 35))
ID_NUMBER = synthetic_id("44052419950412004")


def test_station_visit_and_delivery_reach_the_county(site: Site, enroll_device: Any, broker: BrokerProcess,
                                                     hub_factory: HubFactory, county: CountyProcess,
                                                     tmp_path: Path) -> None:
    bundle = enroll_device(STATION, "station")  # before the hub starts: it reads the registry then
    state = tmp_path / "hub-state"
    state.mkdir(mode=0o700)
    fd = os.open(state / "county-match.key", os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(KEY.hex())
    hub = hub_factory(site.path, broker=broker, state_dir=state)
    services = ServicesDb(services_db_url(hub.db_url, state))  # the desk registers her (the hub's services)
    desk = Dispatcher(services, Privacy(load_or_create(state), BlindIndex(KEY)), None)
    ok, patient = desk.handle("desk", "patient.register", {"id_number": ID_NUMBER, "name": "赵测试", "sex": "2",
                                                           "birth_date": "1995-04-12"}, "desk-0001")
    assert ok, patient
    services.close()
    pid = patient["patient_id"]

    now = dt.datetime.now()
    nst = Episode(4, "bed-2", int((now - dt.timedelta(hours=1)).timestamp() * 1000), pid, None, 33, 2)
    labour = Episode(5, "bed-3", int((now - dt.timedelta(hours=9)).timestamp() * 1000), pid, None, 39, 4)
    visit = county_record(nst, DischargeForm(ANTENATAL, "R2026-0042", systolic_mmhg="118", diastolic_mmhg="74",
                                             weight_kg="63.5"), station_id=STATION, today=now.date(), baseline_bpm=141.6)
    delivery = county_record(labour, DischargeForm(DELIVERED, "R2026-0042", live_births="1"), station_id=STATION,
                             today=now.date(), baseline_bpm=None)
    assert visit is not None and delivery is not None and visit[0] == "antenatal-visit/1"

    link = DeviceLink.from_bundle(bundle, tmp_path / "station-outbox.db",
                                  (broker.host, broker.port))
    link.start()
    try:
        deadline = time.monotonic() + 20
        while not link.stats.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        admitted = [("episode/1", ep.record("admitted", ep.admitted_ms)) for ep in (nst, labour)]
        for schema, body in (*admitted, visit, delivery):
            link.submit(Kind.RECORDS, schema, body)
        assert link.wait_drained(30)
    finally:
        link.stop()
    assert wait_for_records(hub.db_url, 4, 20, STATION) == 4

    store = open_store(hub.db_url)
    lookup = PatientIndexLookup(hub.db_url, state)
    sender = FeedSender(store, load_or_create(state), BlindIndex(KEY), load_site_info(site.path).site_id,
                        CountyClient(county.url), patient_index=lookup)
    deadline = time.monotonic() + 30
    while outbox.feed_status(store)["sent"] < 4 and time.monotonic() < deadline:
        sender.step()
        time.sleep(0.05)
    status = outbox.feed_status(store)
    sender.close()
    lookup.close()
    store.close()
    assert (status["sent"], status["dead"], status["pending"]) == (4, 0, 0), status

    expected = hmac.new(KEY, f"01|{ID_NUMBER}".encode(), hashlib.sha256).hexdigest()
    (fhir_patient,) = county.search("Patient", f"{codes.ID_BLIND_INDEX_SYSTEM}|{expected}")
    assert ID_NUMBER not in str(fhir_patient) and len(county.search("Patient")) == 1
    encounters = {e["identifier"][0]["value"]: e for e in county.search("Encounter")}
    assert set(encounters) == {f"{STATION}-ep4", "R2026-0042-delivery", f"{STATION}-4", f"{STATION}-5"}
    assert encounters["R2026-0042-delivery"]["class"]["code"] == "IMP"
    fhr = [o for o in county.search("Observation") if o["code"]["coding"][0]["code"] == "55283-6"]
    assert [o["valueQuantity"]["value"] for o in fhr] == [142]
    assert {o["subject"]["reference"] for o in county.search("Observation")} == {f"Patient/{fhir_patient['id']}"}
    (episode,) = county.search("EpisodeOfCare")
    assert episode["identifier"][0]["value"] == "R2026-0042"
