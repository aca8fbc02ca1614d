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
PY = sys.executable

sys.path.insert(0, str(ROOT))
from mqtt_broker_config.launcher import BrokerProcess, free_port  # noqa: E402
from provisioning.devsite import make_dev_site  # noqa: E402
from provisioning.site import Site  # noqa: E402


def site() -> Site:
    if (SITE / "site.json").exists():
        return Site.open(SITE)
    port = BROKER_PORT if _port_free(BROKER_PORT) else free_port()
    return make_dev_site(SITE, FLEET, broker_port=port)


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def spawn(name: str, argv: list[str]) -> subprocess.Popen[bytes]:
    log = open(LOGS / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)


def wait_for_line(name: str, needle: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    path = LOGS / f"{name}.log"
    while time.monotonic() < deadline:
        if path.exists() and needle in path.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise SystemExit(f"make run: {name} did not start; see {path}")


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    LOGS.mkdir(parents=True, exist_ok=True)
    os.chmod(RUN, 0o755)  # mosquitto drops to its own user and must reach its run dir
    s = site()
    info = json.loads((SITE / "site.json").read_text())
    port = int(info["broker_port"])
    broker = BrokerProcess(SITE, RUN / "broker", port)
    broker.start()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        procs["hub"] = spawn("hub", [PY, "-m", "central_hub.cli", "run", "--site", str(SITE), "--db", HUB_DB,
                                     "--broker", f"127.0.0.1:{port}"])
        wait_for_line("hub", "mch-hub: subscribed")
        bundles = [str(s.default_bundle_dir(d)) for d in FLEET]
        procs["fleet"] = spawn("fleet", [PY, "-m", "fleet_simulator", "--state-dir", str(RUN / "fleet"),
                                         "--rate", "12", "--duration", "1e9", "--broker", f"127.0.0.1:{port}",
                                         *[a for b in bundles for a in ("--bundle", b)]])
        kiosk = subprocess.run([PY, "-m", "kiosk.cli", "selftest", "--simulate"], capture_output=True, text=True,
                               cwd=ROOT, timeout=120)
        print("kiosk peripherals (simulated), mch-kiosk selftest --simulate:")
        print(kiosk.stdout.rstrip() or kiosk.stderr.rstrip(), flush=True)
        print(f"""
MCH edge is running on simulated hardware (state in {RUN}).
  broker   mosquitto, mTLS on 127.0.0.1:{port}, config {broker.run_dir}
  hub      {HUB_DB}
  fleet    {len(FLEET)} simulated devices ({', '.join(FLEET)}), 12 records/s in all
  logs     {LOGS}/*.log
Where to look:
  .venv/bin/mch-hub status --site {SITE} --db {HUB_DB}
  .venv/bin/mch-hub quarantine --site {SITE} --db {HUB_DB}
  .venv/bin/mch-provision list --site {SITE}
Ctrl-C stops everything.
""", flush=True)
        while True:
            time.sleep(10)
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
        broker.stop()


if __name__ == "__main__":
    sys.exit(main())
