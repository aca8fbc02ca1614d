"""`make run`: the whole system on simulated hardware, in the foreground, until Ctrl-C.

State lives in .run/ (site CA and bundles, broker persistence, hub database, outboxes, logs)
and is reused on the next run, as a real installation's would be.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / ".run"
SITE = RUN / "site"
LOGS = RUN / "logs"
HUB_DB = f"sqlite:///{RUN / 'hub' / 'hub.db'}"
BROKER_PORT = 8883
FLEET = [f"sim-{i:03d}" for i in range(1, 4)]
STATION = "station-01"
BEDS = 4
PY = sys.executable

sys.path.insert(0, str(ROOT))
from central_hub.launcher import HubProcess  # noqa: E402
from mch_link.sitefiles import broker_view, hub_view  # noqa: E402
from mqtt_broker_config.launcher import BrokerProcess, free_port  # noqa: E402
from provisioning.devsite import DEV_PASSPHRASE, DEV_ROOT_PASSPHRASE, make_dev_site  # noqa: E402
from provisioning.migrate import migrate  # noqa: E402
from provisioning.site import Site  # noqa: E402


def site() -> Site:
    if not (SITE / "site.json").exists():
        port = BROKER_PORT if _port_free(BROKER_PORT) else free_port()
        return make_dev_site(SITE, [*FLEET, STATION], broker_port=port)
    migrate(SITE, DEV_PASSPHRASE, DEV_ROOT_PASSPHRASE)  # a .run/site of an earlier release
    s = Site.open(SITE, DEV_PASSPHRASE)
    known = {e.device_id for e in s.devices()}
    for device_id in [*FLEET, STATION]:
        if device_id not in known:
            s.enroll(device_id, "station" if device_id == STATION else "sim")
    return s


def station_config(s: Site, urls: dict[str, str]) -> Path:
    beds = "\n".join(f'[[beds]]\nid = "{bed}"\nurl = "{url}"\nprotocol = "corometrics-115"\n'
                      for bed, url in sorted(urls.items()))
    path = RUN / "station.toml"
    path.write_text(f"""station_id = "{STATION}"
archive = "{RUN / 'station' / 'archive.sqlite3'}"
analysis = true
[link]
bundle = "{s.default_bundle_dir(STATION)}"
outbox = "{RUN / 'station' / 'outbox.sqlite3'}"
{beds}""")
    return path


def read_json_line(name: str, timeout_s: float = 30) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    path = LOGS / f"{name}.log"
    while time.monotonic() < deadline:
        for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
            if line.startswith("{"):
                return dict(json.loads(line))
        time.sleep(0.2)
    raise SystemExit(f"make run: {name} printed no bed map; see {path}")


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def spawn(name: str, argv: list[str]) -> subprocess.Popen[bytes]:
    log = open(LOGS / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    LOGS.mkdir(parents=True, exist_ok=True)
    os.chmod(RUN, 0o755)  # mosquitto drops to its own user and must reach its run dir
    s = site()
    info = json.loads((SITE / "site.json").read_text())
    port = int(info["broker_port"])
    broker = BrokerProcess(broker_view(SITE), RUN / "broker", port)  # the broker's view, not the CA
    broker.start()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    # The hub runs on its view of the site and keeps its data key in the view's default state
    # directory, where `mch-hub status --site <view>` looks.
    hub_site = hub_view(SITE, "hub")
    hub = HubProcess(hub_site, HUB_DB, hub_site / "hub" / "state", extra_args=("--broker", f"127.0.0.1:{port}"),
                     log_path=LOGS / "hub.log", python=PY)
    try:
        hub.start()
        bundles = [str(s.default_bundle_dir(d)) for d in FLEET]
        procs["fleet"] = spawn("fleet", [PY, "-m", "fleet_simulator", "--state-dir", str(RUN / "fleet"),
                                         "--rate", "12", "--duration", "1e9", "--broker", f"127.0.0.1:{port}",
                                         *[a for b in bundles for a in ("--bundle", b)]])
        (RUN / "station").mkdir(exist_ok=True)
        (LOGS / "monitors.log").unlink(missing_ok=True)
        procs["monitors"] = spawn("monitors", [PY, "-m", "fetal_monitor_station.cli", "simulate", "--beds", str(BEDS),
                                               "--json"])
        urls = read_json_line("monitors")
        procs["station"] = spawn("station", [PY, "-m", "fetal_monitor_station.cli", "run", "--config",
                                             str(station_config(s, urls)), "--no-view"])
        kiosk = subprocess.run([PY, "-m", "kiosk.cli", "selftest", "--simulate"], capture_output=True, text=True,
                               cwd=ROOT, timeout=120)
        print("kiosk peripherals (simulated), mch-kiosk selftest --simulate:")
        print(kiosk.stdout.rstrip() or kiosk.stderr.rstrip(), flush=True)
        print(f"""
MCH edge is running on simulated hardware (state in {RUN}).
  broker   mosquitto, mTLS on 127.0.0.1:{port}, config {broker.run_dir}
  hub      {HUB_DB}
  fleet    {len(FLEET)} simulated devices ({', '.join(FLEET)}), 12 records/s in all
  station  {STATION}: {BEDS} simulated Corometrics monitors on ptys, config {RUN / 'station.toml'}
           live view of the beds: .venv/bin/mch-station run --config ... shows it; here it runs as a service
  logs     {LOGS}/*.log
Where to look:
  .venv/bin/mch-hub status --site {SITE} --db {HUB_DB}
  .venv/bin/mch-hub quarantine --site {SITE} --db {HUB_DB}
  .venv/bin/mch-provision list --site {SITE}
Ctrl-C stops everything.
""", flush=True)
        while True:
            time.sleep(10)
            if not hub.running():
                raise SystemExit(f"make run: the hub exited; see {hub.log_path}")
            for name, p in procs.items():
                if p.poll() is not None:
                    raise SystemExit(f"make run: {name} exited with {p.returncode}; see {LOGS / (name + '.log')}")
            out = subprocess.run([PY, "-m", "central_hub.cli", "status", "--site", str(SITE), "--db", HUB_DB],
                                 capture_output=True, text=True, cwd=ROOT)
            print(out.stdout.rstrip() or out.stderr.rstrip(), flush=True)
    except KeyboardInterrupt:
        return 0
    finally:
        for p in procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        hub.stop()
        broker.stop()


if __name__ == "__main__":
    sys.exit(main())
