"""County feed: FHIR resources/s validated and delivered, and the lag from commit to acceptance.

Phases (the county simulator runs as its own process, as in production the county is elsewhere):
1. ceiling: the same transaction Bundles, built and validated beforehand, POSTed one after the
   other to a fresh county: what the county side and HTTP allow (resources/s).
2. throughput: --records pregnancy records committed to a fresh hub store (SQLite, the ingest's
   own commit path, so the trigger queues them); the sender drains the outbox: read, decrypt,
   map, validate (fhir.resources R4B), seal, POST, mark sent. resources/s; ratio to the ceiling.
3. lag: records of mixed kinds (per 10: a booking, a kiosk pregnancy record, 6 visits, 1 delivery,
   1 CTG episode) committed at --rate per second for --lag-s seconds while `mch-hub feed run` (its
   own process) sends; per record, accepted-at minus committed-at; p50/p99. Their patients are in
   the hub's patient index (services.db), so the feed looks up each one's county blind index, as
   it does for kiosk and station records in production.

Target (issue 15): >= 1,000 resources/s; lag p99 < 5 s at 100 records/s.
Ends with `RESULT feed resources_per_s=... ratio=... ceiling_resources_per_s=... sender_resources_per_cpu_s=...
lag_p50_ms=... lag_p99_ms=...` (the sender's own CPU cost does not depend on what else loads the machine).
Writes only in a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cbor2
import httpx

from central_hub.datakey import DataCipher, load_or_create
from central_hub.feed import blindindex, outbox
from central_hub.feed.blindindex import BlindIndex
from central_hub.feed.county import CountyClient
from central_hub.feed.mapping import Source, to_bundle
from central_hub.feed.sender import FeedSender
from central_hub.feed.validate import validate_bundle
from central_hub.services.db import ServicesDb, services_db_url
from central_hub.services.dispatcher import Dispatcher
from central_hub.services.privacy import Privacy
from central_hub.store import Store, open_store
from central_hub.store.model import RecordTuple, record_aad, record_digest
from mch_link.registry import load_site_info
from mch_link.sitefiles import hub_view
from provisioning.devsite import make_dev_site

SITE = "bench-site"
READY = "county-simulator: listening on"
READY_SENDER = "mch-hub feed: sending to"


def start_county(data: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "county_simulator", "--data", str(data), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith(READY):
        proc.kill()
        raise SystemExit(f"bench.feed: the county simulator did not start: {line.strip() or 'no output'}")
    return proc, line.split()[-1]


def pregnancy(rng: random.Random, n: int) -> dict[str, Any]:
    """A synthetic record (GB 11643 check character computed, never a real person)."""
    first17 = f"110105{1985 + n % 15:04d}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]
    colour = rng.choice(["green", "green", "green", "yellow", "orange"])
    return {"record_id": f"R{n:07d}", "patient_id": f"P{n:07d}", "id_number": first17 + check,
            "birth_date": f"{1985 + n % 15:04d}-{1 + n % 12:02d}-{1 + n % 28:02d}", "area_code": "110105",
            "registered_date": "2026-03-01", "lmp": "2025-12-21", "edd": "2026-09-27", "ga_days": 70,
            "gravidity": 2, "parity": 1, "height_cm": 160.0, "pre_pregnancy_weight_kg": 55.5,
            "systolic_mmhg": 118, "diastolic_mmhg": 76, "risk_colour": colour,
            **({"positive_items": ["1.1"]} if colour != "green" else {})}


def commit(store: Store, cipher: DataCipher, bodies: list[tuple[int, dict[str, Any]]], at_ms: int,
           schema: str = "antenatal-booking/1") -> None:
    rows: list[RecordTuple] = []
    for msg_id, body in bodies:
        plain = cbor2.dumps(body)
        key_id, nonce, sealed = cipher.seal(record_aad("kiosk-001", msg_id), plain)
        rows.append(("kiosk-001", msg_id, schema, None, None, at_ms, key_id, nonce, sealed, record_digest(None, plain)))
    with store.transaction([]) as txn:
        txn.add_records(rows)


def ceiling(url: str, bodies: list[dict[str, Any]], index: BlindIndex) -> float:
    src = Source(SITE, "kiosk-001", 0, 0, index, lambda d, e: None)
    bundles: list[bytes] = []
    resources = 0
    for body in bodies:
        built = to_bundle("antenatal-booking/1", body, src)
        if not isinstance(built, dict):
            raise SystemExit(f"bench.feed: a pregnancy record did not map: {built}")
        resources += validate_bundle(built)
        bundles.append(json.dumps(built, ensure_ascii=False, separators=(",", ":")).encode())
    client = CountyClient(url)
    started = time.perf_counter()
    for payload in bundles:
        answer = client.post_transaction(payload)
        if answer.http_status != 200:
            raise SystemExit(f"bench.feed: the county refused a ceiling Bundle: {answer.error}")
    elapsed = time.perf_counter() - started
    client.close()
    return resources / elapsed


def throughput(store: Store, sender: FeedSender, cipher: DataCipher, bodies: list[dict[str, Any]]
               ) -> tuple[float, float]:
    """(resources/s by the wall clock, resources per CPU-second of the sender itself)."""
    for i in range(0, len(bodies), 500):
        commit(store, cipher, [(i + j + 1, b) for j, b in enumerate(bodies[i:i + 500])], int(time.time() * 1000))
    resources = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    while True:
        report = sender.step()
        resources += report.resources
        if report.dead or report.retry_at_ms is not None:
            raise SystemExit(f"bench.feed: sending failed: {outbox.feed_status(store)}")
        if report.idle:
            break
    return resources / (time.perf_counter() - started), resources / (time.process_time() - cpu_started)


def index_patients(state: Path, cipher: DataCipher, index: BlindIndex, n: int) -> list[str]:
    """`n` patients registered in the hub's patient index, as the kiosk's requests register them."""
    db = ServicesDb(services_db_url(f"sqlite:///{state / 'hub.db'}", state))
    desk = Dispatcher(db, Privacy(cipher, index), None)
    out = []
    for k in range(n):
        body = pregnancy(random.Random(k), 5000 + k)
        ok, p = desk.handle("bench", "patient.register", {"id_number": body["id_number"], "name": "测试",
                                                          "sex": "2", "birth_date": body["birth_date"]}, f"b{k}")
        if not ok:
            raise SystemExit(f"bench.feed: could not register a synthetic patient: {p}")
        out.append(str(p["patient_id"]))
    db.close()
    return out


def mixed(rng: random.Random, n: int, patients: list[str]) -> tuple[str, dict[str, Any]]:
    """Every 10 records: a booking, a kiosk pregnancy record, 6 antenatal visits, 1 delivery, 1 CTG episode."""
    patient = patients[n % len(patients)]
    record = f"R{1 + n % 1000:07d}"
    slot = n % 10
    if slot == 0:
        return "antenatal-booking/1", pregnancy(rng, n)
    if slot == 1:
        return "pregnancy-record/1", {"record_id": f"R{n:016x}", "patient_id": patient, "lmp": "2026-09-01",
                                      "edd": "2027-06-08", "gestational_age_days": 93, "bmi": 21.5,
                                      "screen_positive": False, "positive_items": []}
    if slot < 8:
        return "antenatal-visit/1", {"visit_id": f"V{n:07d}", "record_id": record, "patient_id": patient,
                                     "visit_date": "2026-04-01", "ga_days": 100, "weight_kg": 58.0,
                                     "systolic_mmhg": 120, "diastolic_mmhg": 80, "fundal_height_cm": 18.0,
                                     "fhr_bpm": 148}
    if slot == 8:
        return "delivery/1", {"record_id": record, "patient_id": patient, "delivery_date": "2026-10-01",
                              "ga_days": 275, "live_births": 1, "in_facility": True}
    return "episode/1", {"event": "admitted", "episode_id": n, "bed": "bed-1", "admitted_ms": 1_790_000_000_000,
                         "at_ms": 1_790_000_000_000, "patient_id": patient}


def lag(site: Path, db: str, url: str, store: Store, cipher: DataCipher, rng: random.Random, first_msg: int,
        rate: float, seconds: float, patients: list[str]) -> tuple[list[int], float]:
    """`mch-hub feed run` in its own process, as in production; records committed here at `rate`."""
    relay = subprocess.Popen([sys.executable, "-m", "central_hub.cli", "feed", "run", "--site", str(site), "--db", db,
                              "--county", url, "--log-level", "WARNING"], stderr=subprocess.PIPE, text=True)
    try:
        line = relay.stderr.readline() if relay.stderr else ""
        if READY_SENDER not in line:  # committed records must not wait for the sender's start-up
            raise SystemExit(f"bench.feed: mch-hub feed run did not start: {line.strip() or 'no output'}")
        n = int(rate * seconds)
        started = time.perf_counter()
        for k in range(n):
            wait = started + k / rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            schema, body = mixed(rng, first_msg + k, patients)
            commit(store, cipher, [(first_msg + k, body)], int(time.time() * 1000), schema)
        deadline = time.monotonic() + 60
        while outbox.feed_status(store)["pending"] and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        relay.terminate()
        relay.wait(10)
    rows = store._read("SELECT sent_at_ms - queued_at_ms, resources FROM feed_outbox WHERE msg_id >= ?"
                       " AND status = 'sent'", (first_msg,))
    if len(rows) != n:
        raise SystemExit(f"bench.feed: only {len(rows)} of {n} lag records were accepted within 60 s of the last")
    return sorted(int(r[0]) for r in rows), sum(int(r[1]) for r in rows) / n


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.feed", description=__doc__.split("\n")[0])
    p.add_argument("--records", type=int, default=1500, help="pregnancy records for throughput (default 1500)")
    p.add_argument("--rate", type=float, default=100.0, help="records/s in the lag phase (default 100)")
    p.add_argument("--lag-s", type=float, default=30.0, help="length of the lag phase (default 30 s)")
    args = p.parse_args()
    rng = random.Random(15)
    with tempfile.TemporaryDirectory(prefix="bench-feed-") as tmp:
        root = Path(tmp)
        site = make_dev_site(root / "site")
        state = hub_view(site.path, "hub") / "hub" / "state"
        cipher = load_or_create(state)
        blindindex.create(state)
        index = blindindex.load(state)
        bodies = [pregnancy(rng, n) for n in range(1, args.records + 1)]
        ceiling_county, ceiling_url = start_county(root / "county-ceiling")
        try:
            ceiling_rps = ceiling(ceiling_url, bodies, index)
            print(f"ceiling (pre-built Bundles, POST only): {ceiling_rps:.0f} resources/s", flush=True)
        finally:
            ceiling_county.terminate()
            ceiling_county.wait(10)
        county, url = start_county(root / "county")
        db = f"sqlite:///{state / 'hub.db'}"
        store = open_store(db)
        try:
            httpx.get(f"{url}/metadata", timeout=10).raise_for_status()
            sender = FeedSender(store, cipher, index, load_site_info(site.path).site_id, CountyClient(url), batch=100)
            ours_rps, per_cpu_s = throughput(store, sender, cipher, bodies)
            sender.close()
            print(f"feed (outbox -> map -> validate -> POST -> sent): {ours_rps:.0f} resources/s"
                  f" ({args.records} records), ratio {ours_rps / ceiling_rps:.2f};"
                  f" the sender's own CPU: {per_cpu_s:.0f} resources per CPU-second", flush=True)
            patients = index_patients(state, cipher, index, 200)
            lags, per_record = lag(hub_view(site.path, "hub"), db, url, store, cipher, rng, args.records + 1, args.rate,
                                   args.lag_s, patients)
        finally:
            store.close()
            county.terminate()
            county.wait(10)
    p50, p99 = statistics.median(lags), lags[min(len(lags) - 1, int(len(lags) * 0.99))]
    print(f"lag at {args.rate:.0f} records/s ({per_record:.1f} resources per record, mixed kinds) for"
          f" {args.lag_s:.0f} s, sender in its own process: p50 {p50:.0f} ms, p99 {p99} ms, max {lags[-1]} ms")
    print(f"RESULT feed resources_per_s={ours_rps:.0f} ratio={ours_rps / ceiling_rps:.2f}"
          f" ceiling_resources_per_s={ceiling_rps:.0f} sender_resources_per_cpu_s={per_cpu_s:.0f}"
          f" lag_p50_ms={p50:.0f} lag_p99_ms={p99}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
