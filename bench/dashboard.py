"""Dashboard speed with 5,000 devices: fleet page p95 and SSE lag p95, each against a baseline.

Set-up (all in a temporary directory): a site with --live enrolled devices and the rest of
--devices as registry entries of their own (keys, serial, expiry: what the hub reads), a real
Mosquitto, `mch-hub run` (SQLite) and `mch-hub web`. The registry-only devices get fleet rows
(online, offline, silent, a share with faults and station alarm summaries) written through the
store's own transaction API; the live devices connect over mTLS and send state messages.

1. Fleet page: GET /fleet (100 rows of the 5,000, and filtered variants) with a session, p95.
   Baseline: GET /healthz through the same server, p95; ratio = fleet / baseline.
2. SSE lag: Chromium shows /fleet?q=live; every live device sends heartbeats (the outbox depth
   changes each time, so each row changes); a MutationObserver in the page records when each
   row arrives; lag = arrival in the browser - the hub's receive time of that message (the row's
   data-seen, same clock). Baseline: the bench polls the database for the same rows (10 ms) and
   records when each becomes visible: the store's own lag. Ratio = SSE p95 / store p95.

Ends with `RESULT dashboard fleet_p95_ms=... sse_lag_p95_ms=... devices=5000 ...`; exits 1 when
it cannot measure (no Chromium, a process that does not start, too few samples).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from central_hub.launcher import HubProcess, terminate
from central_hub.store import open_store
from central_hub.store.model import FleetRow
from central_hub.users import Users
from mch_link import envelope
from mch_link.envelope import Record
from mch_link.keys import LinkKeys
from mch_link.registry import DeviceKind, DeviceStatus, RegistryEntry, write_entry
from mch_link.sitefiles import broker_view, hub_view
from mch_link.topics import Kind, topic
from mqtt_broker_config.launcher import BrokerProcess, free_port
from provisioning.devsite import make_dev_site

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
PASSWORD = "bench password 1234"
FAULTS = [{"code": "paper-out", "severity": "warning"}, {"code": "low-disk", "severity": "critical"},
          {"code": "monitor-disconnected", "severity": "warning"}]
START_S = 60.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def populate(site_dir: Path, db_url: str, n: int) -> None:
    """Registry entries and fleet rows for `n` devices that never connect (the crowd around the live ones)."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    now_ms = int(now.timestamp() * 1000)
    kinds = [DeviceKind.KIOSK, DeviceKind.STATION, DeviceKind.BRIDGE]
    ids = []
    for i in range(n):
        kind = kinds[i % 3]
        device_id = f"{kind.value}-{i:05d}"
        ids.append(device_id)
        write_entry(site_dir, RegistryEntry(device_id, kind, DeviceStatus.ACTIVE, f"{rng.getrandbits(64):016x}",
                                            now + timedelta(days=rng.randint(-5, 700)), LinkKeys.generate(device_id)))
    store = open_store(db_url)
    try:
        with store.transaction(ids) as txn:
            for i, device_id in enumerate(ids):
                online = i % 10 != 0
                seen = now_ms - rng.randint(0, 200_000)
                faults = [FAULTS[i % 3]] if i % 17 == 0 else []
                station = device_id.startswith("station")
                txn.fleet(device_id)
                txn.put_fleet(FleetRow(device_id, online=online, bdseq=1, seq=5, births=1, birth_at_ms=seen - 60_000,
                                       last_seen_ms=seen, firmware=f"fw/{1 + i % 3}.0", kind=device_id.split("-")[0],
                                       queue_depth=rng.randint(0, 50), state_at_ms=seen, heartbeat_s=30,
                                       oldest_record_age_s=rng.randint(0, 600),
                                       faults=json.dumps(faults), alarm_beds=rng.randint(0, 4) if station else None,
                                       alarm_highest=rng.choice(["none", "low", "high"]) if station else None))
        Users(store).create("bench", "operator", PASSWORD)
    finally:
        store.close()


class LiveDevice:
    """An enrolled device publishing sealed state messages over its own mTLS connection."""

    def __init__(self, bundle: Path, broker: BrokerProcess) -> None:
        self.keys = LinkKeys.read(bundle / "link-keys.json")
        self.device_id = self.keys.device_id
        self.counter, self.seq, self.depth = 0, 0, 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.device_id, protocol=mqtt.MQTTv5)
        self.client.tls_set(ca_certs=str(bundle / "ca.pem"), certfile=str(bundle / "device.crt.pem"),
                            keyfile=str(bundle / "device.key.pem"))
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def state(self, event: str) -> None:
        self.counter += 1
        self.depth += 1
        body = {"event": event, "bdseq": 0, "seq": self.seq % 256, "kind": "kiosk", "queue_depth": self.depth,
                "heartbeat_s": 30}
        self.seq += 1
        where = topic(self.device_id, Kind.STATE)
        now_ms = int(time.time() * 1000)
        payload = envelope.seal(self.keys.uplink, self.device_id, where, self.counter, "state/1",
                                [Record(0, body, now_ms)], now_ms)
        self.client.publish(where, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def start_web(site_dir: Path, db_url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    argv = [sys.executable, "-m", "central_hub.cli", "web", "--site", str(site_dir), "--db", db_url,
            "--port", "0", "--log-level", "WARNING"]
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "serving http" in text:
            return proc, text.split("serving ")[1].split()[0].rstrip("/")
        if proc.poll() is not None:
            raise RuntimeError(f"mch-hub web exited:\n{text}")
        time.sleep(0.1)
    terminate(proc, 5)
    raise RuntimeError("mch-hub web did not start")


def login(client: httpx.Client) -> None:
    """Sign in; the cookies are Secure, which httpx's jar keeps off plain HTTP, so they are sent by hand
    (a browser sends them to 127.0.0.1)."""
    page = client.get("/login")
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    client.headers["Cookie"] = f"mch_login_csrf={page.cookies['mch_login_csrf']}"
    done = client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf": token})
    if done.status_code != 303:
        raise RuntimeError(f"login failed: {done.status_code}")
    client.headers["Cookie"] = f"mch_session={done.cookies['mch_session']}"


def timed(client: httpx.Client, path: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(path)
        out.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"GET {path}: {r.status_code}")
    return out


_OBSERVER = """() => {
  window.arrivals = [];
  new MutationObserver((records) => {
    const now = Date.now();
    for (const r of records) for (const node of r.addedNodes)
      if (node.nodeType === 1 && node.tagName === 'TR' && node.dataset.seen)
        window.arrivals.push([node.id, Number(node.dataset.seen), now]);
  }).observe(document.querySelector('table.fleet tbody'), {childList: true});
}"""


def store_lag(db_url: str, device_ids: list[str], stop: threading.Event, out: list[float]) -> None:
    """Baseline: when each new last_seen_ms becomes visible in the database, polled every 10 ms."""
    store = open_store(db_url)
    marks = ", ".join("?" * len(device_ids))
    last: dict[str, int] = {}
    try:
        while not stop.is_set():
            now = time.time() * 1000
            for device_id, seen in store.read(f"SELECT device_id, last_seen_ms FROM fleet WHERE device_id IN ({marks})",
                                              device_ids):
                if seen is not None and last.get(device_id) != seen:
                    if device_id in last:
                        out.append(now - seen)
                    last[device_id] = seen
            stop.wait(0.01)
    finally:
        store.close()


def sse_lag(url: str, db_url: str, devices: list[LiveDevice], rounds: int, interval_s: float) -> tuple[list[float],
                                                                                                        list[float]]:
    from playwright.sync_api import sync_playwright

    baseline: list[float] = []
    stop = threading.Event()
    poller = threading.Thread(target=store_lag, args=(db_url, [d.device_id for d in devices], stop, baseline))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        page.goto(f"{url}/login")
        page.fill("input[name=username]", "bench")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{url}/fleet?q=live")
        page.wait_for_selector("#dev-" + devices[0].device_id)
        page.wait_for_timeout(1000)  # the event stream is connected
        page.evaluate(_OBSERVER)
        poller.start()
        for _ in range(rounds):
            for d in devices:
                d.state("heartbeat")
            time.sleep(interval_s)
        time.sleep(2.0)
        arrivals = page.evaluate("() => window.arrivals")
        browser.close()
    stop.set()
    poller.join()
    return [float(now - seen) for _, seen, now in arrivals], baseline


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__.splitlines()[0])
    p.add_argument("--devices", type=int, default=5000)
    p.add_argument("--live", type=int, default=20, help="enrolled devices that send state messages")
    p.add_argument("--requests", type=int, default=200, help="timed GETs per page variant")
    p.add_argument("--rounds", type=int, default=15, help="heartbeats per live device")
    p.add_argument("--interval-s", type=float, default=0.5)
    a = p.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"bench.dashboard: cannot measure: {CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 1
    root = Path(tempfile.mkdtemp(prefix="mch-bench-dashboard-"))
    os.chmod(root, 0o755)  # mosquitto drops to its own user and must reach its run dir
    broker = hub = web = None
    devices: list[LiveDevice] = []
    try:
        site = make_dev_site(root / "site")
        bundles = [site.enroll(f"kiosk-live-{i:02d}", "kiosk").bundle for i in range(a.live)]
        db_url = f"sqlite:///{root / 'state' / 'hub.db'}"
        populate(hub_view(site.path, "hub"), db_url, a.devices - a.live)
        broker = BrokerProcess(broker_view(site.path), root / "broker", free_port())  # the broker's view of the site
        broker.start()
        hub = HubProcess(hub_view(site.path, "hub"), db_url, root / "state", extra_args=("--broker", f"{broker.host}:{broker.port}"),
                         log_path=root / "hub.log").start()
        web, url = start_web(hub_view(site.path, "hub"), db_url, root / "web.log")
        devices = [LiveDevice(b, broker) for b in bundles]
        for d in devices:
            d.state("birth")
        with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as client:
            login(client)
            timed(client, "/fleet", 10)  # warm-up
            fleet_ms = []
            for path in ("/fleet", "/fleet?state=online", "/fleet?fault=any", "/fleet?kind=station&page=3"):
                fleet_ms += timed(client, path, a.requests // 4)
            health_ms = timed(client, "/healthz", a.requests)
            shown = client.get("/fleet").text.count('<tr id="dev-')
        fleet_p95, health_p95 = percentile(fleet_ms, 95), percentile(health_ms, 95)
        print(f"fleet page ({shown} rows of {a.devices} devices): p50 {statistics.median(fleet_ms):.1f} ms, "
              f"p95 {fleet_p95:.1f} ms; /healthz p95 {health_p95:.1f} ms; ratio {fleet_p95 / health_p95:.1f}")
        lags, store_lags = sse_lag(url, db_url, devices, a.rounds, a.interval_s)
        wanted = a.live * a.rounds
        if len(lags) < wanted * 0.9 or len(store_lags) < wanted * 0.5:
            print(f"bench.dashboard: cannot measure: {len(lags)} SSE arrivals and {len(store_lags)} store samples "
                  f"for {wanted} heartbeats", file=sys.stderr)
            return 1
        sse_p95, store_p95 = percentile(lags, 95), percentile(store_lags, 95)
        print(f"SSE lag, hub receipt -> row in Chromium ({len(lags)} rows): p50 {statistics.median(lags):.0f} ms, "
              f"p95 {sse_p95:.0f} ms; store visibility p95 {store_p95:.0f} ms; ratio {sse_p95 / max(store_p95, 1):.1f}")
        print(f"RESULT dashboard fleet_p95_ms={fleet_p95:.0f} sse_lag_p95_ms={sse_p95:.0f} devices={a.devices} "
              f"fleet_ratio={fleet_p95 / health_p95:.1f} sse_ratio={sse_p95 / max(store_p95, 1):.1f}")
        return 0
    except (RuntimeError, OSError) as exc:
        print(f"bench.dashboard: cannot measure: {exc}", file=sys.stderr)
        return 1
    finally:
        for d in devices:
            d.close()
        if web is not None:
            terminate(web, 10)
        if hub is not None:
            hub.stop()
        if broker is not None:
            broker.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
