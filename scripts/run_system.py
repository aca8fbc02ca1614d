"""`make run`: the whole system on simulated hardware, in the foreground, until Ctrl-C: broker,
hub (ingest, hospital services, county feed), dashboard, acquirer and county simulators, a
simulated fleet, a station with its nurse screen, and the kiosk app (screens: scripts/run_screens.py).

State lives in .run/ (site CA and bundles, broker persistence, hub database, outboxes, logs)
and is reused on the next run, as a real installation's would be.
"""

from __future__ import annotations

import json
import os
import secrets
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
KIOSK = "kiosk-001"
DASHBOARD_HUB_ID = "hub-2"  # the dashboard's own identity for commands to devices
DASHBOARD_PORT = 8080
KIOSK_VNC_PORT, NURSE_VNC_PORT = 5900, 5901
KIOSK_TERMINAL_ID = "KIOSK001"
DEMO_PIN = "123456"  # typed on the simulated PIN pad (the computer keyboard in the kiosk window)
BEDS = 4
PY = sys.executable

sys.path.insert(0, str(ROOT))
from central_hub.launcher import HubProcess  # noqa: E402
from mch_link.sitefiles import broker_view, hub_view  # noqa: E402
from mqtt_broker_config.launcher import BrokerProcess, free_port  # noqa: E402
from provisioning.devsite import DEV_PASSPHRASE, DEV_ROOT_PASSPHRASE, kind_for, make_dev_site  # noqa: E402
from provisioning.migrate import migrate  # noqa: E402
from provisioning.site import Site  # noqa: E402
from scripts.run_screens import open_screen  # noqa: E402


def site() -> Site:
    if not (SITE / "site.json").exists():
        port = BROKER_PORT if _port_free(BROKER_PORT) else free_port()
        return make_dev_site(SITE, [*FLEET, STATION, KIOSK], broker_port=port, hub_ids=("hub", DASHBOARD_HUB_ID))
    migrate(SITE, DEV_PASSPHRASE, DEV_ROOT_PASSPHRASE)  # a .run/site of an earlier release
    s = Site.open(SITE, DEV_PASSPHRASE)
    if DASHBOARD_HUB_ID not in s.info.hub_ids:
        s.issue_hub_identity(DASHBOARD_HUB_ID)
    known = {e.device_id for e in s.devices()}
    for device_id in [*FLEET, STATION, KIOSK]:
        if device_id not in known:
            s.enroll(device_id, kind_for(device_id))
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


def read_line(name: str, prefix: str, timeout_s: float = 30) -> str:
    """The first line of a child's log that starts with `prefix` (its ready line)."""
    deadline = time.monotonic() + timeout_s
    path = LOGS / f"{name}.log"
    while time.monotonic() < deadline:
        for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
            if line.startswith(prefix):
                return line
        time.sleep(0.2)
    raise SystemExit(f"make run: {name} did not start; see {path}")


def run_quiet(argv: list[str], stdin: str | None = None) -> None:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"make run: {' '.join(argv[:4])} ... failed: {done.stderr.strip() or done.stdout.strip()}")


def dashboard_password() -> str:
    """One random password per local site, kept 0600 beside it (a real site's admin sets their own)."""
    path = RUN / "dashboard-password"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(12) + "\n")
    return path.read_text().strip()


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def spawn(name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    (LOGS / f"{name}.log").unlink(missing_ok=True)  # ready lines are read from this run's log only
    log = open(LOGS / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}, start_new_session=True)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    LOGS.mkdir(parents=True, exist_ok=True)
    os.chmod(RUN, 0o755)  # mosquitto drops to its own user and must reach its run dir
    s = site()
    info = json.loads((SITE / "site.json").read_text())
    port = int(info["broker_port"])
    broker_at = f"127.0.0.1:{port}"
    broker = BrokerProcess(broker_view(SITE), RUN / "broker", port)  # the broker's view, not the CA
    broker.start()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    screens = []
    # The hub runs on its view of the site and keeps its data key in the view's default state
    # directory, where `mch-hub status --site <view>` looks.
    hub_site = hub_view(SITE, "hub")
    hub_state = hub_site / "hub" / "state"
    hub_state.mkdir(parents=True, exist_ok=True)
    db_args = ["--site", str(hub_site), "--db", HUB_DB, "--state-dir", str(hub_state)]
    hub = HubProcess(hub_site, HUB_DB, hub_state, extra_args=("--broker", broker_at), log_path=LOGS / "hub.log",
                     python=PY)
    try:
        # the bank: the acquirer simulator, with the simulated PIN pad's keys; the hub's services.json names it
        from kiosk.app.demo_keys import PIN_KEY, TERMINAL_MAC_KEY
        from kiosk.bankcard.card_profiles import PROFILES

        acquirer_port = free_port()
        (RUN / "acquirer").mkdir(exist_ok=True)
        run_quiet([PY, "-m", "acquirer_simulator.demo", "--accounts-out", str(RUN / "acquirer" / "accounts.json"),
                   "--hub-state", str(hub_state), "--port", str(acquirer_port), "--terminal-id", KIOSK_TERMINAL_ID,
                   "--pin-key", PIN_KEY.hex().upper(), "--terminal-mac-key", TERMINAL_MAC_KEY.hex().upper(),
                   "--account", f"{PROFILES['pse'].pan}:{DEMO_PIN}"])
        procs["acquirer"] = spawn("acquirer", [PY, "-m", "acquirer_simulator", "--accounts",
                                               str(RUN / "acquirer" / "accounts.json"), "--port", str(acquirer_port),
                                               "--journal", str(RUN / "acquirer" / "journal.json")])
        read_line("acquirer", "acquirer-simulator: listening on")
        # the county platform and the hub's feed to it
        procs["county"] = spawn("county", [PY, "-m", "county_simulator", "--data", str(RUN / "county")])
        county_url = read_line("county", "county-simulator: listening on").rsplit(" ", 1)[1]
        run_quiet([PY, "-m", "central_hub.cli", "feed", "init-key", "--site", str(hub_site), "--state-dir",
                   str(hub_state), "--exist-ok"])
        hub.start()
        procs["feed"] = spawn("feed", [PY, "-m", "central_hub.cli", "feed", "run", *db_args, "--county", county_url])
        # the operators' dashboard
        password = dashboard_password()
        run_quiet([PY, "-m", "central_hub.cli", "user", "add", *db_args, "admin", "--role", "admin",
                   "--password-stdin", "--exist-ok"], stdin=password + "\n")
        web_port = DASHBOARD_PORT if _port_free(DASHBOARD_PORT) else free_port()
        procs["web"] = spawn("web", [PY, "-m", "central_hub.cli", "web", "--site", str(hub_view(SITE, DASHBOARD_HUB_ID)),
                                     "--db", HUB_DB, "--state-dir", str(hub_state), "--hub-id", DASHBOARD_HUB_ID,
                                     "--broker", broker_at, "--port", str(web_port)])
        read_line("web", "mch-hub web: serving")
        bundles = [str(s.default_bundle_dir(d)) for d in FLEET]
        procs["fleet"] = spawn("fleet", [PY, "-m", "fleet_simulator", "--state-dir", str(RUN / "fleet"),
                                         "--rate", "12", "--duration", "1e9", "--broker", broker_at,
                                         *[a for b in bundles for a in ("--bundle", b)]])
        (RUN / "station").mkdir(exist_ok=True)
        procs["monitors"] = spawn("monitors", [PY, "-m", "fetal_monitor_station.cli", "simulate", "--beds", str(BEDS),
                                               "--json"])
        urls = dict(json.loads(read_line("monitors", "{")))
        nurse = open_screen("nurse", NURSE_VNC_PORT, LOGS)
        screens.append(nurse)
        procs["station"] = spawn("station", [PY, "-m", "fetal_monitor_station.cli", "ui", "--config",
                                             str(station_config(s, urls)), "--size", "1280x800"],
                                 env={"DISPLAY": nurse.display})
        kiosk = subprocess.run([PY, "-m", "kiosk.cli", "selftest", "--simulate"], capture_output=True, text=True,
                               cwd=ROOT, timeout=120)
        print("kiosk peripherals (simulated), mch-kiosk selftest --simulate:")
        print(kiosk.stdout.rstrip() or kiosk.stderr.rstrip(), flush=True)
        kiosk_screen = open_screen("kiosk", KIOSK_VNC_PORT, LOGS)
        screens.append(kiosk_screen)
        procs["kiosk"] = spawn("kiosk", [PY, "-m", "kiosk.cli", "run", "--simulate", "--windowed", "--bundle",
                                         str(s.default_bundle_dir(KIOSK)), "--broker", broker_at],
                               env={"DISPLAY": kiosk_screen.display})
        print(f"""
MCH edge is running on simulated hardware (state in {RUN}).
  broker     mosquitto, mTLS on {broker_at}, config {broker.run_dir}
  hub        {HUB_DB}: ingest, hospital services for the kiosk, feed to the county
  dashboard  http://127.0.0.1:{web_port}/  login admin / {password}
  kiosk      {KIOSK} on simulated ID card, bank card (PC/SC), PIN pad, printers: {kiosk_screen.where()}
             a synthetic ID card lies on the reader, so the registration form opens at start (after an
             idle timeout, restart make run to place it again): fill it in on the on-screen keypad, 下一步,
             answer 是/否, 提交建档, then 预约产检 -> a slot -> 去缴费; type the PIN {DEMO_PIN} on the
             computer keyboard (it stands in for the PIN pad), Enter
  nurse      {STATION}: {BEDS} simulated Corometrics monitors on ptys, central screen: {nurse.where()}
  bank       acquirer simulator on 127.0.0.1:{acquirer_port} (ISO 8583), journal {RUN / 'acquirer' / 'journal.json'}
  county     FHIR simulator at {county_url}
  fleet      {len(FLEET)} simulated devices ({', '.join(FLEET)}), 12 records/s in all
  logs       {LOGS}/*.log
Where to look:
  .venv/bin/mch-hub status {' '.join(db_args)}
  .venv/bin/mch-hub feed status {' '.join(db_args)}
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
            out = subprocess.run([PY, "-m", "central_hub.cli", "status", *db_args],
                                 capture_output=True, text=True, cwd=ROOT)
            print(out.stdout.rstrip() or out.stderr.rstrip(), flush=True)
    except KeyboardInterrupt:
        return 0
    finally:
        # The children run in their own sessions: only this cleanup stops them, so a second Ctrl-C
        # or a SIGTERM from make must not cut it short and leave a broker or a screen behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
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
        for screen in screens:
            screen.stop()


if __name__ == "__main__":
    sys.exit(main())
