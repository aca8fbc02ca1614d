"""What the mch_guard ACL plugin costs the broker: mosquitto CPU per message, with and without it.

Every message now passes the plugin twice (the publisher's write check, the hub's read check on
delivery) before the acl_file. Two brokers on the same site view, the project's config, one of
them with the two plugin lines removed (only here, in a temporary run dir), take the same flood
alternately, ROUNDS times: N raw paho publishers (device certificates) x M QoS 1 messages to a
bare subscriber with the hub identity (bench._bare_subscriber). Measured: the broker process's
CPU time (utime + stime from /proc) per delivered message, and messages/s at the subscriber.

    python -m bench.broker_guard [--devices 4] [--messages 15000] [--payload 400] [--rounds 5]

Ends with `RESULT broker_guard cpu_us_per_msg=... baseline_cpu_us_per_msg=... ratio=... msgs_per_s=...`.
Exits 1 with a message when it cannot measure (no mosquitto, no plugin, a flood incomplete).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from mch_link.registry import hub_identity
from mch_link.sitefiles import broker_view
from mch_link.topics import Kind, topic
from mqtt_broker_config import render, rundir
from mqtt_broker_config.errors import BrokerError
from mqtt_broker_config.launcher import BrokerProcess, free_port
from provisioning.devsite import make_dev_site

CLK_TCK = os.sysconf("SC_CLK_TCK")
START_TIMEOUT_S = 10.0
FLOOD_TIMEOUT_S = 300.0
GUARD_LINES = ("plugin ", "plugin_opt_policy_file ")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


@dataclass
class Broker:
    name: str
    host: str
    port: int
    pid: int
    stop: object


def start_guarded(view: Path, run: Path) -> Broker:
    proc = BrokerProcess(view, run, free_port())
    proc.start()
    assert proc.pid is not None
    return Broker("guard", proc.host, proc.port, proc.pid, proc.stop)


def start_plain(view: Path, run: Path) -> Broker:
    """The same rendered config without the two plugin lines (the baseline)."""
    port = free_port()
    conf = rundir.prepare(view, run, port, "127.0.0.1", rundir.run_user())
    plain = run / "mosquitto-plain.conf"
    plain.write_text("".join(line for line in conf.read_text().splitlines(keepends=True)
                             if not line.startswith(GUARD_LINES)))
    log = run / render.LOG_FILE
    offset = log.stat().st_size if log.exists() else 0
    proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(plain)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while " running" not in log.read_text(errors="replace")[offset:]:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise BrokerError(f"baseline mosquitto did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.02)

    def stop() -> None:
        proc.terminate()
        proc.wait(10)

    return Broker("plain", "127.0.0.1", port, proc.pid, stop)


def flood_once(broker: Broker, bundles: list[Path], hub: tuple[Path, Path, Path], messages: int,
               payload: bytes) -> tuple[float, float]:
    """(broker CPU seconds, subscriber messages/s) for one flood."""
    total = messages * len(bundles)
    ca, cert, key = hub
    sub = subprocess.Popen([sys.executable, "-m", "bench._bare_subscriber", "--host", broker.host, "--port",
                            str(broker.port), "--ca", str(ca), "--cert", str(cert), "--key", str(key),
                            "--expect", str(total), "--timeout", str(FLOOD_TIMEOUT_S)],
                           stdout=subprocess.PIPE, text=True)
    assert sub.stdout is not None
    if sub.stdout.readline().strip() != "SUBSCRIBED":
        sub.kill()
        raise BrokerError(f"{broker.name}: the bare subscriber did not subscribe")
    clients = []
    for b in bundles:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=b.name, protocol=mqtt.MQTTv5)
        c.tls_set(ca_certs=str(b / "ca.pem"), certfile=str(b / "device.crt.pem"), keyfile=str(b / "device.key.pem"))
        c.max_inflight_messages_set(20)
        c.connect(broker.host, broker.port)
        c.loop_start()
        clients.append((c, topic(b.name, Kind.CTG)))
    cpu0 = cpu_s(broker.pid)
    threads = [threading.Thread(target=lambda c=c, t=t: [c.publish(t, payload, qos=1) for _ in range(messages)],
                                daemon=True) for c, t in clients]
    for t in threads:
        t.start()
    out, _ = sub.communicate(timeout=FLOOD_TIMEOUT_S + 30)
    cpu = cpu_s(broker.pid) - cpu0
    for c, _ in clients:
        c.disconnect()
        c.loop_stop()
    _, counted, seconds = out.split()
    if int(counted) != total:
        raise BrokerError(f"{broker.name}: {counted} of {total} messages arrived")
    return cpu, total / float(seconds)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.broker_guard", description=__doc__.splitlines()[0])
    p.add_argument("--devices", type=int, default=4)
    p.add_argument("--messages", type=int, default=15000, help="per device per flood")
    p.add_argument("--payload", type=int, default=400, help="bytes per message (a sealed CTG batch is ~300-600)")
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args(argv)
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        print("broker_guard: mosquitto is not installed (apt-get install mosquitto)", file=sys.stderr)
        return 1
    try:
        render.guard_plugin_path()
    except BrokerError as exc:
        print(f"broker_guard: cannot measure: {exc}", file=sys.stderr)
        return 1
    root = Path(tempfile.mkdtemp(prefix="mch-bench-guard-"))
    os.chmod(root, 0o755)  # mosquitto, dropped to its own user, must reach the run dirs
    brokers: list[Broker] = []
    try:
        ids = [f"sim-{i:03d}" for i in range(1, a.devices + 1)]
        site = make_dev_site(root / "site", ids)
        bundles = [site.default_bundle_dir(d) for d in ids]
        ident = hub_identity(site.path)
        hub = (ident.ca, ident.cert, ident.key)
        view = broker_view(site.path)
        brokers = [start_guarded(view, root / "run-guard"), start_plain(view, root / "run-plain")]
        payload = os.urandom(a.payload)
        per_msg: dict[str, list[float]] = {"guard": [], "plain": []}
        rates: dict[str, list[float]] = {"guard": [], "plain": []}
        total = a.messages * a.devices
        for r in range(a.rounds):
            for b in brokers if r % 2 == 0 else reversed(brokers):
                cpu, rate = flood_once(b, bundles, hub, a.messages, payload)
                per_msg[b.name].append(cpu / total * 1e6)
                rates[b.name].append(rate)
                print(f"round {r + 1} {b.name:5}: broker CPU {cpu:.2f} s = {cpu / total * 1e6:.1f} us/msg, "
                      f"{rate:,.0f} msg/s at the subscriber", flush=True)
    except (BrokerError, OSError, subprocess.SubprocessError, ValueError) as exc:
        print(f"broker_guard: cannot measure: {exc}", file=sys.stderr)
        return 1
    finally:
        for b in brokers:
            b.stop()  # type: ignore[operator]
        shutil.rmtree(root, ignore_errors=True)
    guard, plain = statistics.median(per_msg["guard"]), statistics.median(per_msg["plain"])
    print(f"RESULT broker_guard cpu_us_per_msg={guard:.1f} baseline_cpu_us_per_msg={plain:.1f} "
          f"ratio={guard / plain:.3f} msgs_per_s={statistics.median(rates['guard']):.0f} "
          f"baseline_msgs_per_s={statistics.median(rates['plain']):.0f} devices={a.devices} "
          f"messages={total} rounds={a.rounds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
