"""Ingest throughput: sealed records from a simulated fleet through Mosquitto into the hub store.

Phases, each with its own freshly enrolled devices (a device's outbox is never recreated
under the same identity):
1. ceiling: N raw paho publishers flood pre-sealed 100-record envelopes; a bare paho
   subscriber in its own process only counts them (messages/s).
2. hub on SQLite, then on PostgreSQL: N DeviceLinks drain a prefilled backlog into
   `mch-hub run` (its own process); records/s and messages/s until all are stored.
3. latency: 1,000 records/s steady for --latency-s; per record, outbox write -> hub
   acknowledgement received (an upper bound on outbox write -> hub commit); p50/p99.
4. soak: --soak-s at 2,000 records/s; hub RSS sampled; last minute vs first minute.

Ends with `RESULT ingest records_per_s=... ratio=... p99_ms=... postgres_records_per_s=...`.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from central_hub.launcher import HubProcess, process_tree
from central_hub.store import open_store
from fleet_simulator.fleet import SCHEMA, sim_record
from mch_link import envelope
from mch_link.device import DeviceLink
from mch_link.envelope import Record
from mch_link.keys import LinkKeys
from mch_link.registry import hub_identity
from mch_link.sitefiles import broker_view, hub_view
from mch_link.topics import Kind, topic
from mqtt_broker_config.launcher import BrokerProcess, free_port
from provisioning.devsite import make_dev_site
from provisioning.site import Site

BATCH = 100
REPEATS = 3
PG_ADMIN = os.environ.get("MCH_TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def enroll(site: Site, prefix: str, n: int) -> list[Path]:
    return [site.enroll(f"{prefix}-{i:03d}", "sim").bundle for i in range(n)]


def sealed_floods(bundles: list[Path], msgs_per_device: int, per_msg: int) -> list[tuple[Path, str, list[bytes]]]:
    """Per device: its bundle, its ctg topic and `msgs_per_device` envelopes sealed ahead of time."""
    out = []
    for b in bundles:
        keys = LinkKeys.read(b / "link-keys.json")
        t = topic(keys.device_id, Kind.CTG)
        msgs = []
        for c in range(msgs_per_device):
            recs = [Record(c * per_msg + i + 1, sim_record(i), 0) for i in range(per_msg)]
            msgs.append(envelope.seal(keys.uplink, keys.device_id, t, c, SCHEMA, recs, 0))
        out.append((b, t, msgs))
    return out


def flood(broker: BrokerProcess, floods: list[tuple[Path, str, list[bytes]]]) -> list[mqtt.Client]:
    """Raw paho publishers, one per device certificate, publishing everything at QoS 1 as fast as they can."""
    clients = []
    for b, _, _ in floods:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=b.name, protocol=mqtt.MQTTv5)
        c.tls_set(ca_certs=str(b / "ca.pem"), certfile=str(b / "device.crt.pem"), keyfile=str(b / "device.key.pem"))
        c.connect(broker.host, broker.port)
        c.loop_start()
        clients.append(c)
    for c, (_, t, msgs) in zip(clients, floods, strict=True):  # publish from threads: all devices at once
        threading.Thread(target=lambda c=c, t=t, m=msgs: [c.publish(t, p, qos=1) for p in m], daemon=True).start()
    return clients


def stop_clients(clients: list[mqtt.Client]) -> None:
    for c in clients:
        c.disconnect()
        c.loop_stop()


def measure_ceiling(site: Site, broker: BrokerProcess, bundles: list[Path], msgs_per_device: int,
                    per_msg: int) -> float:
    """Messages/s that a bare paho subscriber (own process, hub identity) counts from the flood."""
    ident = hub_identity(site.path)
    floods = sealed_floods(bundles, msgs_per_device, per_msg)
    sub = subprocess.Popen(
        [sys.executable, "-m", "bench._bare_subscriber", "--host", broker.host, "--port", str(broker.port),
         "--ca", str(ident.ca), "--cert", str(ident.cert), "--key", str(ident.key),
         "--expect", str(msgs_per_device * len(bundles))],
        stdout=subprocess.PIPE, text=True)
    assert sub.stdout is not None
    if sub.stdout.readline().strip() != "SUBSCRIBED":
        raise RuntimeError("bare subscriber did not subscribe")
    clients = flood(broker, floods)
    out, _ = sub.communicate(timeout=300)
    stop_clients(clients)
    _, counted, seconds = out.split()
    return int(counted) / float(seconds)


def measure_hub_flood(site: Site, broker: BrokerProcess, bundles: list[Path], msgs_per_device: int,
                      per_msg: int, db_path: Path) -> float:
    """The same flood into `mch-hub run` (SQLite at `db_path`) instead of the bare subscriber.

    Timed like the ceiling, from the first message in to the last one done: from the hub's
    receipt stamp on the first record to the poll that finds every record committed (an
    upper bound on the last commit)."""
    floods = sealed_floods(bundles, msgs_per_device, per_msg)
    db_url = f"sqlite:///{db_path}"
    hub = start_hub(site, broker, db_url, db_path.parent / "state")
    total = msgs_per_device * per_msg * len(bundles)
    t0 = time.time()
    clients = flood(broker, floods)
    stored = 0
    while stored < total and time.time() - t0 < 300:
        time.sleep(0.02)
        stored = record_count(db_url)
    done = time.time()
    stop_clients(clients)
    hub.stop()
    if stored != total:
        raise RuntimeError(f"hub stored {stored} of {total} records in {done - t0:.0f} s; see {hub.log_path}")
    with sqlite3.connect(db_path) as db:
        (first_ms,) = db.execute("SELECT min(received_at_ms) FROM records").fetchone()
    return msgs_per_device * len(bundles) / (done - first_ms / 1000)


def fresh_pg_url() -> tuple[str, str]:
    name = f"mch_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, PG_ADMIN.rpartition("/")[0] + "/" + name


def drop_pg(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def record_count(db_url: str) -> int:
    store = open_store(db_url)
    try:
        return store.record_count()
    finally:
        store.close()


def start_hub(site: Site, broker: BrokerProcess, db_url: str, state: Path) -> HubProcess:
    return HubProcess(hub_view(site.path, "hub"), db_url, state, extra_args=("--broker", f"{broker.host}:{broker.port}"),
                      log_path=state / "hub.log").start()


def measure_hub(site: Site, broker: BrokerProcess, bundles: list[Path], backlog: int, db_url: str,
                work: Path, per_msg: int = BATCH) -> tuple[float, float]:
    hub = start_hub(site, broker, db_url, work / "state")
    links = [DeviceLink.from_bundle(b, work / f"{b.name}.outbox", broker=(broker.host, broker.port),
                                    batch_max=per_msg) for b in bundles]
    for link in links:
        for start in range(0, backlog, 1000):
            link.submit_many(Kind.CTG, SCHEMA, [sim_record(i) for i in range(start, min(backlog, start + 1000))])
    total = backlog * len(links)
    assert hub.proc is not None
    assert broker.pid is not None
    hub_cpu0, own_cpu0, broker_cpu0 = cpu_s(hub.proc.pid), time.process_time(), cpu_s(broker.pid)
    t0 = time.perf_counter()
    for link in links:
        link.start()
    stored = 0
    while stored < total and time.perf_counter() - t0 < 300:
        time.sleep(0.2)
        stored = record_count(db_url)
    elapsed = time.perf_counter() - t0
    print(f"  {elapsed:.1f} s wall; CPU: hub {cpu_s(hub.proc.pid) - hub_cpu0:.1f} s, "
          f"fleet {time.process_time() - own_cpu0:.1f} s, broker {cpu_s(broker.pid) - broker_cpu0:.1f} s")
    envelopes = sum(link.stats.envelopes_sent for link in links)
    for link in links:
        link.stop()
    hub.stop()
    if stored != total:
        raise RuntimeError(f"hub stored {stored} of {total} records in {elapsed:.0f} s; see {hub.log_path}")
    return total / elapsed, envelopes / elapsed


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its live descendants (from /proc/<pid>/stat)."""
    total = 0
    for p in process_tree(pid):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    """Resident set of a process and its descendants, kB."""
    total = 0
    for p in process_tree(pid):
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def steady(site: Site, broker: BrokerProcess, bundles: list[Path], rate: float, seconds: float, work: Path,
           sample_rss: bool) -> tuple[list[float], list[int]]:
    """Run the fleet at `rate` records/s; returns per-record latencies (ms) and hub RSS samples (kB)."""
    hub = start_hub(site, broker, f"sqlite:///{work / 'hub.db'}", work / "state")
    submitted: dict[tuple[int, int], float] = {}
    latencies: list[float] = []
    lock = threading.Lock()

    def hook(i: int):  # noqa: ANN202
        def acked(ids: set[int]) -> None:
            now = time.perf_counter()
            with lock:
                for msg_id in ids:
                    t = submitted.pop((i, msg_id), None)
                    if t is not None:
                        latencies.append((now - t) * 1000)
        return acked

    links = [DeviceLink.from_bundle(b, work / f"{b.name}.outbox", broker=(broker.host, broker.port),
                                    on_acked=hook(i), batch_max=BATCH) for i, b in enumerate(bundles)]
    for link in links:
        link.start()
    time.sleep(1.0)
    rss: list[int] = []
    t0 = time.perf_counter()
    produced = 0
    seq = 0
    next_sample = t0
    while (elapsed := time.perf_counter() - t0) < seconds:
        due = max(0, int(rate * elapsed) - produced)
        for i, link in enumerate(links):  # one commit per device per tick, spread evenly
            share = due // len(links) + (1 if i < due % len(links) else 0)
            if not share:
                continue
            now = time.perf_counter()
            ids = link.submit_many(Kind.CTG, SCHEMA, [sim_record(seq + j) for j in range(share)])
            seq += share
            with lock:
                submitted.update({(i, msg_id): now for msg_id in ids})
        produced += due
        if sample_rss and time.perf_counter() >= next_sample and hub.proc is not None:
            rss.append(rss_kb(hub.proc.pid))
            next_sample += 10
        time.sleep(0.02)
    deadline = time.perf_counter() + 30
    while submitted and time.perf_counter() < deadline:
        time.sleep(0.1)
    for link in links:
        link.stop()
    hub.stop()
    if submitted:
        raise RuntimeError(f"{len(submitted)} records not acknowledged within 30 s after the run")
    return latencies, rss


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.splitlines()[0])
    p.add_argument("--devices", type=int, default=8)
    p.add_argument("--backlog", type=int, default=10000, help="records per device for the throughput phases")
    p.add_argument("--small-msgs", type=int, default=2000, help="1-record messages per device for the ratio")
    p.add_argument("--latency-s", type=float, default=30)
    p.add_argument("--soak-s", type=float, default=300)
    a = p.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="mch-bench-ingest-"))
    os.chmod(root, 0o755)  # mosquitto drops to its own user and must reach its run dir
    site = make_dev_site(root / "site")
    broker = BrokerProcess(broker_view(site.path), root / "broker", free_port())  # the broker's view of the site
    broker.start()
    pg_name = ""
    try:
        n = a.devices
        ceiling = measure_ceiling(site, broker, enroll(site, "ceil", n), a.backlog // BATCH, BATCH)
        print(f"ceiling, {BATCH} records/msg: bare subscriber {ceiling:,.0f} msg/s")
        sq_rec, sq_msg = measure_hub(site, broker, enroll(site, "sqlt", n), a.backlog,
                                     f"sqlite:///{root / 'sqlite' / 'hub.db'}", root / "sqlite")
        print(f"hub on SQLite, {BATCH} records/msg: {sq_rec:,.0f} records/s, {sq_msg:,.0f} msg/s "
              f"({sq_msg / ceiling:.2f} of the ceiling: the bare subscriber does no per-record work)")
        small = a.small_msgs
        # The same flood of 1-record messages into a bare subscriber and into the hub, alternating,
        # REPEATS times each; medians, since a single ceiling run swings by a third on this machine.
        ceilings, hubs = [], []
        for r in range(REPEATS):
            ceilings.append(measure_ceiling(site, broker, enroll(site, f"ce{r}", n), small, 1))
            hubs.append(measure_hub_flood(site, broker, enroll(site, f"fl{r}", n), small, 1,
                                          root / f"flood{r}" / "hub.db"))
        ceiling1, hub1 = statistics.median(ceilings), statistics.median(hubs)
        ratio = hub1 / ceiling1
        print(f"ceiling, 1 record/msg: bare subscriber {', '.join(f'{c:,.0f}' for c in ceilings)} msg/s "
              f"(median {ceiling1:,.0f})")
        print(f"hub on SQLite, same flood: {', '.join(f'{h:,.0f}' for h in hubs)} msg/s (median {hub1:,.0f}), "
              f"{ratio:.2f} of the ceiling")
        _, sq1_msg = measure_hub(site, broker, enroll(site, "sql1", n), small,
                                 f"sqlite:///{root / 'sqlite1' / 'hub.db'}", root / "sqlite1", per_msg=1)
        print(f"hub on SQLite, 1 record/msg from full DeviceLinks (sealing, outbox, acks): {sq1_msg:,.0f} msg/s")
        pg_name, pg_url = fresh_pg_url()
        pg_rec, pg_msg = measure_hub(site, broker, enroll(site, "pgsq", n), a.backlog, pg_url, root / "pg")
        print(f"hub on PostgreSQL: {pg_rec:,.0f} records/s, {pg_msg:,.0f} msg/s")
        lat, _ = steady(site, broker, enroll(site, "latn", n), 1000, a.latency_s, root / "latency", False)
        lat.sort()
        p50, p99 = lat[len(lat) // 2], lat[int(len(lat) * 0.99)]
        print(f"latency at 1,000 records/s over {a.latency_s:.0f} s ({len(lat)} records): "
              f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {lat[-1]:.0f} ms")
        _, rss = steady(site, broker, enroll(site, "soak", n), 2000, a.soak_s, root / "soak", True)
        first, last = statistics.mean(rss[:6]), statistics.mean(rss[-6:])
        print(f"soak {a.soak_s:.0f} s at 2,000 records/s: hub RSS {first / 1024:.1f} MiB in the first minute, "
              f"{last / 1024:.1f} MiB in the last (x{last / first:.2f})")
        print(f"RESULT ingest records_per_s={sq_rec:.0f} ratio={ratio:.2f} p99_ms={p99:.0f} "
              f"postgres_records_per_s={pg_rec:.0f} ratio_devicelink_1_per_msg={sq1_msg / ceiling1:.2f} "
              f"ceiling_msg_per_s={ceiling1:.0f} rss_growth={last / first:.2f}")
        return 0
    finally:
        broker.stop()
        if pg_name:
            drop_pg(pg_name)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
