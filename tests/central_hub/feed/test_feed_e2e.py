"""The feed against the county simulator (its own process, real HTTP on loopback).

What must be shown (issue 15): every resource kind sent and validated; a rejection -> dead letter
with the reason; timeout and 429 -> retried, no duplicate at the county; the sender killed
mid-send -> resumed, no duplicate; the county down for an hour (accelerated clock) -> drained.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from central_hub.datakey import DataCipher, load_or_create
from central_hub.feed import blindindex, codes, outbox
from central_hub.feed.backoff import Backoff
from central_hub.feed.county import CountyClient
from central_hub.feed.sender import FeedSender
from central_hub.store import Store, open_store
from tests.central_hub.feed import records
from tests.support.county import CountyProcess
from tests.support.hub import hub_site
from tests.support.processes import terminate

pytestmark = pytest.mark.integration
# Patient, its patch (blind index, birth date, area), EpisodeOfCare, the booking Encounter, 9 Observations
ENTRIES_PER_GREEN_PREGNANCY = 13
INDEX = blindindex.BlindIndex(bytes(range(32)))


class FakeClock:
    def __init__(self) -> None:
        self.ms = int(time.time() * 1000)

    def __call__(self) -> int:
        return self.ms


def sender(store: Store, cipher: DataCipher, county: CountyProcess, timeout_s: float = 5.0,
           clock: FakeClock | None = None) -> FeedSender:
    return FeedSender(store, cipher, INDEX, "site-a", CountyClient(county.url, timeout_s),
                      Backoff(base_s=1.0, cap_s=300.0, rng=random.Random(5)), batch=50, clock_ms=clock)


def drain(s: FeedSender, clock: FakeClock | None = None, max_steps: int = 200) -> None:
    """Step until nothing is pending; a fake clock jumps to each retry time instead of waiting."""
    for _ in range(max_steps):
        report = s.step()
        if outbox.feed_status(s.store)["pending"] == 0:
            return
        if report.retry_at_ms is not None:
            if clock is None:
                time.sleep(max(0.0, (report.retry_at_ms - time.time() * 1000) / 1000))
            else:
                clock.ms = max(clock.ms, report.retry_at_ms)
    raise AssertionError(f"not drained: {outbox.feed_status(s.store)}")


def identifiers(county: CountyProcess, rtype: str) -> Counter[str]:
    return Counter(f"{i['system']}|{i['value']}" for r in county.search(rtype) for i in r["identifier"][:1])


def assert_no_duplicates(county: CountyProcess) -> None:
    for rtype in ("Patient", "EpisodeOfCare", "Encounter", "Observation", "Condition", "Flag"):
        twice = {k: n for k, n in identifiers(county, rtype).items() if n > 1}
        assert twice == {}, f"{rtype} created more than once: {twice}"


def pregnancies(store: Store, cipher: DataCipher, n: int, device: str = "kiosk-001") -> None:
    rng = random.Random(n)
    records.commit(store, cipher, [(device, i, "antenatal-booking/1", records.booking(rng, i))
                                   for i in range(1, n + 1)])


def test_every_resource_kind_is_sent_validated_and_kept(store: Store, county: CountyProcess) -> None:
    cipher = DataCipher.generate()
    body = records.booking(random.Random(1), 1, colour="orange", items=("1.1", "4.1"))
    records.commit(store, cipher, [
        ("kiosk-001", 1, "antenatal-booking/1", body),
        ("kiosk-001", 2, "antenatal-visit/1", records.visit(1, 2)),
        ("kiosk-001", 3, "delivery/1", records.delivery(1)),
        ("station-1", 1, "episode/1", records.episode(4, None, "opened")),
        ("station-1", 2, "episode/1", records.episode(5, "P000001")),
        ("station-1", 3, "classification/1", records.classification(5)),
        ("station-1", 4, "ctg/1", {"not": "fed"})])
    drain(sender(store, cipher, county))
    status = outbox.feed_status(store)
    assert (status["sent"], status["skipped"], status["dead"], status["pending"]) == (5, 1, 0, 0)
    kept = county.stats()["resources"]
    assert kept == {"Patient": 1, "EpisodeOfCare": 1, "Encounter": 4, "Flag": 1, "Condition": 2,
                    "Observation": 9 + 5 + 2 + 1}
    (patient,) = county.search("Patient", f"{codes.ID_BLIND_INDEX_SYSTEM}|{INDEX.of(body['id_number'])}")
    assert patient["birthDate"] == body["birth_date"] and body["id_number"] not in str(patient)
    (obs,) = county.search("Observation", f"{codes.site_system('site-a', 'observation')}|R000001/11778-8")
    assert obs["valueDateTime"] == body["edd"] and obs["subject"]["reference"] == f"Patient/{patient['id']}"
    (ctg,) = [o for o in county.search("Observation") if o["code"]["coding"][0]["code"] == "55283-6"
              and "effectivePeriod" in o]
    assert ctg["subject"]["reference"] == f"Patient/{patient['id']}"
    assert_no_duplicates(county)


def test_a_rejection_is_a_dead_letter_with_the_reason_and_requeue_sends_it(tmp_path: Path,
                                                                          county: CountyProcess) -> None:
    store, cipher = open_store(f"sqlite:///{tmp_path / 'hub.db'}"), DataCipher.generate()
    pregnancies(store, cipher, 3)
    county.faults("reject", count=2)  # the merged transaction, then the first record sent alone
    drain(sender(store, cipher, county))
    (dead,) = outbox.dead_letters(store)
    assert dead.msg_id == 1 and dead.http_status == 422
    assert "rejected by the platform" in (dead.error or "")
    assert dead.outcome is not None and dead.outcome["issue"][0]["code"] == "business-rule"
    assert outbox.feed_status(store)["sent"] == 2  # the rows behind it were not held up
    assert outbox.requeue(store, [dead.id], "county says: try again") == 1
    drain(sender(store, cipher, county))
    assert outbox.feed_status(store)["sent"] == 3 and county.stats()["resources"]["Patient"] == 3
    store.close()


def test_timeout_is_retried_without_a_duplicate(tmp_path: Path, county: CountyProcess) -> None:
    store, cipher = open_store(f"sqlite:///{tmp_path / 'hub.db'}"), DataCipher.generate()
    pregnancies(store, cipher, 2)
    county.faults("timeout", count=1, delay_s=3.0)  # the county stores it, then answers too late
    s = sender(store, cipher, county, timeout_s=1.0)
    report = s.step()
    assert report.sent == 0 and report.retry_at_ms is not None
    (head, _) = outbox.head(store, 10)
    assert head.attempts == 1 and head.sealed is not None
    assert county.stats()["transactions"] == 1  # it did arrive
    drain(s)
    stats = county.stats()
    # both records went as one transaction; resent, every entry was found, none created again (the
    # first time, only the patches found something: the Patients created just before them)
    assert stats["transactions"] == 2 and stats["matched"] == 2 * ENTRIES_PER_GREEN_PREGNANCY + 2
    assert stats["created"] == 2 * (ENTRIES_PER_GREEN_PREGNANCY - 1)
    assert stats["resources"]["Patient"] == 2
    assert stats["resources"]["Observation"] == 2 * 9
    assert_no_duplicates(county)
    store.close()


def test_429_is_retried_after_retry_after(tmp_path: Path, county: CountyProcess) -> None:
    store, cipher = open_store(f"sqlite:///{tmp_path / 'hub.db'}"), DataCipher.generate()
    pregnancies(store, cipher, 2)
    county.faults("429", count=2, retry_after_s=1)
    s = sender(store, cipher, county)
    started = time.time()
    report = s.step()
    assert report.retry_at_ms is not None and report.retry_at_ms - s.clock_ms() >= 900
    assert outbox.feed_status(store)["last_error"].startswith("HTTP 429")
    drain(s)
    assert time.time() - started >= 2.0  # waited as told, twice
    stats = county.stats()
    assert stats["served"] == {"429": 2, "ok": 1} and stats["resources"]["Patient"] == 2  # one transaction
    assert_no_duplicates(county)
    store.close()


def test_503_then_network_down_for_an_hour_then_drained(tmp_path: Path, county: CountyProcess) -> None:
    store, cipher = open_store(f"sqlite:///{tmp_path / 'hub.db'}"), DataCipher.generate()
    pregnancies(store, cipher, 30)
    clock = FakeClock()
    s = sender(store, cipher, county, clock=clock)
    county.faults("503", count=1)
    report = s.step()
    county.stop()  # the county goes down
    hour_end = clock.ms + 3_600_000
    attempts = 1
    while clock.ms < hour_end:
        assert report.sent == 0 and report.retry_at_ms is not None
        clock.ms = report.retry_at_ms
        report = s.step()
        attempts += 1
    (head, *_) = outbox.head(store, 50)
    assert head.attempts == attempts and outbox.feed_status(store)["pending"] == 30
    assert "network error" in outbox.feed_status(store)["last_error"]
    # backoff capped at 300 s: ~9 to reach the cap, then one each 150..300 s -> between 20 and 40 in an hour
    assert 20 <= attempts <= 40
    county.start()  # back, on the same port, with what it kept
    drain(s, clock)
    assert outbox.feed_status(store)["sent"] == 30 and outbox.dead_letters(store) == []
    assert county.stats()["resources"]["Patient"] == 30
    assert_no_duplicates(county)
    store.close()


def _feed_run(site: Path, db: str, county: CountyProcess) -> subprocess.Popen[Any]:
    return subprocess.Popen([sys.executable, "-m", "central_hub.cli", "feed", "run", "--site", str(site),
                             "--db", db, "--county", county.url, "--timeout-s", "10", "--log-level", "WARNING"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_sender_killed_mid_send_resumes_without_duplicates(site: Any, county: CountyProcess) -> None:
    state = hub_site(site.path) / "hub" / "state"
    cipher = load_or_create(state)
    blindindex.create(state)
    db = f"sqlite:///{state / 'hub.db'}"
    store = open_store(db)
    pregnancies(store, cipher, 20)
    county.faults("timeout", count=1, delay_s=30.0)  # the first transaction is stored, its answer held back
    proc = _feed_run(hub_site(site.path), db, county)
    deadline = time.monotonic() + 20
    while county.stats()["transactions"] < 1:
        assert time.monotonic() < deadline and proc.poll() is None, "sender never sent"
        time.sleep(0.05)
    proc.kill()  # SIGKILL mid-send: the county has the first Bundle, the hub never heard back
    proc.wait(5)
    assert outbox.feed_status(store)["pending"] == 20
    proc = _feed_run(hub_site(site.path), db, county)
    try:
        deadline = time.monotonic() + 30
        while outbox.feed_status(store)["pending"]:
            assert time.monotonic() < deadline and proc.poll() is None, "not drained after the restart"
            time.sleep(0.1)
    finally:
        assert terminate(proc, 10) == 0
    stats = county.stats()
    assert stats["resources"]["Patient"] == 20 and stats["resources"]["Observation"] == 20 * 9
    assert stats["transactions"] == 2  # the 20 records in one transaction, twice: recognised the second time
    assert_no_duplicates(county)
    store.close()


def test_a_second_sender_waits_and_takes_over_when_the_first_dies(site: Any, county: CountyProcess,
                                                                 tmp_path: Path) -> None:
    state = hub_site(site.path) / "hub" / "state"
    cipher = load_or_create(state)
    blindindex.create(state)
    db = f"sqlite:///{state / 'hub.db'}"
    store = open_store(db)
    pregnancies(store, cipher, 5)
    first = subprocess.Popen([sys.executable, "-m", "central_hub.cli", "feed", "run", "--site", str(hub_site(site.path)),
                              "--db", db, "--county", "http://127.0.0.1:9/fhir"],  # nothing answers there
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert first.stderr is not None and "sending to" in first.stderr.readline()
    log = tmp_path / "second.log"
    with log.open("w") as err:
        second = subprocess.Popen([sys.executable, "-m", "central_hub.cli", "feed", "run", "--site", str(hub_site(site.path)),
                                   "--db", db, "--county", county.url], stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 20
        while "another feed sender holds" not in log.read_text():
            assert time.monotonic() < deadline and second.poll() is None, log.read_text()
            time.sleep(0.1)
        time.sleep(1.0)
        assert county.stats()["transactions"] == 0 and outbox.feed_status(store)["pending"] == 5
        first.kill()  # its lock dies with it
        first.wait(5)
        while outbox.feed_status(store)["pending"]:
            assert time.monotonic() < deadline + 20 and second.poll() is None, log.read_text()
            time.sleep(0.1)
    finally:
        first.kill()
        assert terminate(second, 10) == 0
    assert county.stats()["resources"]["Patient"] == 5
    store.close()
