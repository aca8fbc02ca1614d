"""`mch-hub his import` end to end: the HIS's file -> the hub's record store -> the feed -> the county
simulator (which validates with its own R4 models); a bad record refused with the reason and not
stored; the file sent again: nothing twice, at the hub or at the county."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from pathlib import Path

import pytest

from central_hub.datakey import load_or_create
from central_hub.feed import codes, outbox
from central_hub.feed.blindindex import BlindIndex
from central_hub.feed.county import CountyClient
from central_hub.feed.sender import FeedSender
from central_hub.his.inbound import HIS_DEVICE
from central_hub.store import open_store
from tests.central_hub.feed import records
from tests.central_hub.his.test_inbound import line, woman
from tests.support.county import CountyProcess

pytestmark = pytest.mark.integration
KEY = bytes(range(50, 82))


def his_import(path: Path, db: str, state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "central_hub.cli", "his", "import", str(path), "--db", db,
                           "--state-dir", str(state)], capture_output=True, text=True, timeout=60)


def drain(db: str, state: Path, county: CountyProcess) -> dict[str, int]:
    store = open_store(db)
    sender = FeedSender(store, load_or_create(state), BlindIndex(KEY), "site-a", CountyClient(county.url))
    try:
        for _ in range(20):
            sender.step()
            if outbox.feed_status(store)["pending"] == 0:
                break
        return outbox.feed_status(store)
    finally:
        sender.close()
        store.close()


def test_his_file_reaches_the_county_once_and_a_bad_record_is_refused(tmp_path: Path, hub_db_url: str,
                                                                       county: CountyProcess) -> None:
    state = tmp_path / "state"
    load_or_create(state)
    open_store(hub_db_url).close()  # the hub's database, as `mch-hub run` leaves it
    bad = records.delivery(2)
    bad["ga_days"] = -1
    lines = woman(1)[:1] + [line("delivery/1", bad)] + woman(1)[1:]
    his_file = tmp_path / "his-2026-05-01.jsonl"
    his_file.write_text("\n".join(lines) + "\n", "utf-8")

    first = his_import(his_file, hub_db_url, state)
    assert first.returncode == 1, first.stderr
    assert first.stdout.strip() == "stored 6, already stored 0, refused 1"
    assert first.stderr.strip() == "mch-hub his: line 2: refused: delivery/1: /ga_days violates properties/ga_days/minimum"
    status = drain(hub_db_url, state, county)
    assert (status["sent"], status["dead"], status["pending"]) == (6, 0, 0)

    again = his_import(his_file, hub_db_url, state)  # the HIS sends the same file again
    assert again.returncode == 1 and again.stdout.strip() == "stored 0, already stored 6, refused 1"
    good_only = tmp_path / "fixed.jsonl"
    good_only.write_text("\n".join(woman(1)) + "\n", "utf-8")
    fixed = his_import(good_only, hub_db_url, state)
    assert (fixed.returncode, fixed.stdout.strip(), fixed.stderr) == (0, "stored 0, already stored 6, refused 0", "")
    assert drain(hub_db_url, state, county)["sent"] == 6

    store = open_store(hub_db_url)
    assert store.record_count(HIS_DEVICE) == 6
    store.close()
    booking = json.loads(lines[0])["record"]
    expected = hmac.new(KEY, f"01|{booking['id_number']}".encode(), hashlib.sha256).hexdigest()
    (patient,) = county.search("Patient")
    assert f"{codes.ID_BLIND_INDEX_SYSTEM}|{expected}" in [f"{i['system']}|{i['value']}" for i in patient["identifier"]]
    assert booking["id_number"] not in json.dumps(patient)
    kept = county.stats()["resources"]
    # booking: Patient, EpisodeOfCare, Encounter, 9 Observations; 4 visits: Encounter + GA, BP, weight,
    # fundal height, FHR each; the delivery: Encounter, GA, live births
    assert kept == {"Patient": 1, "EpisodeOfCare": 1, "Encounter": 1 + 4 + 1, "Observation": 9 + 4 * 5 + 2}
    assert county.stats()["transactions"] >= 1
