"""Request/response latency: kiosk request -> hub answer, idle and while the record path is flooded.

Real broker (project config), real hub (`mch-hub run` with its request lane), a kiosk's
DeviceLink + RpcClient, and a second device flooding CTG-sized records. The ratio compares
the p95 during the flood with the idle p95 measured in the same run; the target is that the
flooded p95 stays under one second.

    python -m bench.rpc_latency [--requests 200] [--flood 60000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from central_hub.launcher import HubProcess
from mch_link.device import DeviceLink
from mch_link.keys import KEYS_FILE, LinkKeys
from mch_link.rpc import RpcClient, RpcError
from mch_link.sitefiles import broker_view, hub_view
from mch_link.topics import Kind
from mqtt_broker_config.launcher import BrokerProcess, free_port
from provisioning.devsite import make_dev_site

FLOOD_BODY = {"seq": 0, "fhr_bpm": [140] * 16, "toco": [10] * 16, "note": "x" * 200}
MIN_FLOOD_SAMPLES = 20


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def _connected(link: DeviceLink) -> bool:
    deadline = time.monotonic() + 10
    while not link.stats.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)
    return link.stats.connected


def _timed(client: RpcClient) -> float:
    started = time.monotonic()
    client.call("patient.find", {"outpatient_no": "MZ00000001"})
    return (time.monotonic() - started) * 1000


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.rpc_latency", description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=200, help="idle requests (default 200)")
    p.add_argument("--flood", type=int, default=60_000, help="records the flooding device sends (default 60000)")
    a = p.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="mch-bench-rpc-"))
    os.chmod(root, 0o755)  # mosquitto drops to its own user and must reach its run dir
    site = make_dev_site(root / "site")
    kiosk, flood = site.enroll("kiosk-001", "kiosk").bundle, site.enroll("sim-001", "sim").bundle
    broker = BrokerProcess(broker_view(site.path), root / "broker", free_port())
    broker.start()
    hub = HubProcess(hub_view(site.path, "hub"), f"sqlite:///{root / 'hub' / 'hub.db'}", root / "hub",
                     extra_args=("--broker", f"{broker.host}:{broker.port}"))
    links: list[DeviceLink] = []
    try:
        hub.start()
        link = DeviceLink.from_bundle(kiosk, root / "kiosk.db", broker=(broker.host, broker.port))
        links.append(link)
        client = RpcClient(link, "kiosk-001", LinkKeys.read(kiosk / KEYS_FILE))
        link.start()
        if not _connected(link):
            print("rpc_latency: the kiosk could not connect to the broker", file=sys.stderr)
            return 1
        idle = [_timed(client) for _ in range(a.requests)]
        flooder = DeviceLink.from_bundle(flood, root / "flood.db", broker=(broker.host, broker.port))
        links.append(flooder)
        flooder.submit_many(Kind.CTG, "sim/1", [FLOOD_BODY] * a.flood)
        flooder.start()
        time.sleep(0.3)
        flooded: list[float] = []
        while flooder.depth() > 0 and len(flooded) < a.requests:
            flooded.append(_timed(client))
            time.sleep(0.02)
        if len(flooded) < MIN_FLOOD_SAMPLES:
            print(f"rpc_latency: only {len(flooded)} requests while the flood lasted; raise --flood",
                  file=sys.stderr)
            return 1
        idle_p95, flood_p95 = p95(idle), p95(flooded)
        print(f"idle: {len(idle)} requests, p50 {sorted(idle)[len(idle) // 2]:.1f} ms, p95 {idle_p95:.1f} ms")
        print(f"during a {a.flood}-record flood: {len(flooded)} requests, p95 {flood_p95:.1f} ms, "
              f"max {max(flooded):.1f} ms")
        print(f"RESULT rpc_latency idle_p95_ms={idle_p95:.1f} flood_p95_ms={flood_p95:.1f} "
              f"flood_max_ms={max(flooded):.1f} ratio={flood_p95 / idle_p95:.2f} target_ms=1000")
        return 0 if flood_p95 < 1000 else 1
    except RpcError as exc:
        print(f"rpc_latency: a request failed: {exc}", file=sys.stderr)
        return 1
    finally:
        for link in links:
            link.stop()
        hub.stop()
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
