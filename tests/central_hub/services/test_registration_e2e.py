"""Issue 12 end to end: a registration the kiosk queued while the hub was down becomes one patient
and one pregnancy record, and reaches the county with the ID number's blind index (issue 15).

kiosk flow (hub down) -> the link's outbox -> real Mosquitto -> the real hub (ingest, intake) ->
services tables -> the feed -> the county simulator; then she registers online once more after
the hub came back: still one patient, one record, nothing twice at the county.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import random
from pathlib import Path
from typing import Any

import pytest

from central_hub.datakey import load_or_create
from central_hub.feed import codes, outbox
from central_hub.feed.blindindex import BlindIndex
from central_hub.feed.county import CountyClient
from central_hub.feed.patients import PatientIndexLookup
from central_hub.feed.sender import FeedSender
from central_hub.services.db import services_db_url
from central_hub.store import open_store
from kiosk.app.launch import LinkQueue
from kiosk.flows.register import Answers, register
from kiosk.flows.session import Session
from kiosk.hospital.client import HubHospitalClient
from kiosk.idcard.synthetic import synthetic_identity
from mch_link.registry import load_site_info
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.site import Site
from tests.central_hub.test_commands_e2e import wait_for
from tests.support.county import CountyProcess
from tests.support.hub import HubFactory

pytestmark = pytest.mark.integration

DEVICE = "kiosk-001"
COUNTY_KEY = bytes(range(7, 39))
WAIT_S = 30.0


def test_queued_registration_reaches_services_and_county_once(site: Site, enroll_device: Any,
                                                               broker: BrokerProcess, hub_factory: HubFactory,
                                                               hub_db_url: str, county: CountyProcess,
                                                               tmp_path: Path) -> None:
    bundle = enroll_device(DEVICE, "kiosk")
    state = tmp_path / "hub-state"
    state.mkdir(mode=0o700)
    fd = os.open(state / "county-match.key", os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(COUNTY_KEY.hex())
    hub = hub_factory(site.path, hub_db_url, broker=broker, state_dir=state)
    hub.stop()  # its session stays at the broker: what the kiosk sends now waits there
    client, link = HubHospitalClient.connect(bundle, tmp_path / "outbox.db", (broker.host, broker.port))
    try:
        identity = synthetic_identity(random.Random(12))
        today = dt.date.today()
        answers = Answers(today - dt.timedelta(days=77), 161.0, 54.0, 2, 1, {"2.2": True})
        session = Session(identity=identity)
        queued = register(client, session, answers, today, LinkQueue(link))
        assert queued.status == "queued", queued
        assert link.outbox.depth() == 1

        hub.restart()
        assert link.wait_drained(WAIT_S)
        sdb = open_store(services_db_url(hub.db_url, state))
        done = wait_for(lambda: sdb.read("SELECT status, patient_id, record_id FROM svc_registrations"), WAIT_S)
        assert [d[0] for d in done] == ["created"]
        _, patient_id, record_id = done[0]

        # she registers once more after the hub came back (same session, same form): the same of each
        online = register(client, session, answers, today, LinkQueue(link))
        assert online.status == "created" and online.record is not None, online
        assert online.record.record_id == record_id and session.patient is not None
        assert session.patient.patient_id == patient_id
        assert int(sdb.read("SELECT count(*) FROM svc_patients")[0][0]) == 1
        assert int(sdb.read("SELECT count(*) FROM svc_pregnancy_records")[0][0]) == 1
        assert link.wait_drained(WAIT_S)  # the kiosk's own pregnancy-record/1 of the online answer
        sdb.close()

        store = open_store(hub.db_url)
        assert wait_for(lambda: outbox.feed_status(store)["pending"] >= 2, WAIT_S)
        site_id = load_site_info(site.path).site_id
        lookup = PatientIndexLookup(hub.db_url, state)
        sender = FeedSender(store, load_or_create(state), BlindIndex(COUNTY_KEY), site_id, CountyClient(county.url),
                            patient_index=lookup)
        for _ in range(20):
            sender.step()
            if outbox.feed_status(store)["pending"] == 0:
                break
        status = outbox.feed_status(store)
        assert (status["sent"], status["dead"], status["pending"]) == (2, 0, 0), status
        sender.close()
        lookup.close()
        store.close()
    finally:
        link.stop()

    # at the county: one Patient, matched by a blind index computed here, apart from the hub's code
    expected = hmac.new(COUNTY_KEY, f"01|{identity.id_number}".encode(), hashlib.sha256).hexdigest()
    (patient,) = county.search("Patient")
    assert {"system": codes.ID_BLIND_INDEX_SYSTEM, "value": expected} in [
        {"system": i["system"], "value": i["value"]} for i in patient["identifier"]]
    assert identity.id_number not in str(patient) and identity.name not in str(patient)
    assert county.search("Patient", f"{codes.ID_BLIND_INDEX_SYSTEM}|{expected}") == [patient]
    (episode,) = county.search("EpisodeOfCare")
    assert episode["identifier"][0]["value"] == record_id
    observations = [o["identifier"][0]["value"] for o in county.search("Observation")]
    assert sorted(observations) == sorted(f"{record_id}/{c}" for c in ("11778-8", "49051-6", "8665-2", "39156-5"))
    assert len(county.search("Condition")) == 1 and len(county.search("Flag")) == 1

