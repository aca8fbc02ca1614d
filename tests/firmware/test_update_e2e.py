"""A firmware release end to end: signed and published with provisioning, offered through the hub's
audited command path, streamed by the hub's update channel (`mch-hub firmware run`) through the real Mosquitto to the CTG
bridge on the MicroPython unix port, installed and confirmed; then a release that fails its health
check (it never gets a hub acknowledgement in its window) rolled back by the bootloader model.

The bridge process is restarted whenever it resets itself (exit 0 after "reset"), as a board reboots.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from mchfw import slots_host

from central_hub.audit import AuditLog
from central_hub.commands import Commands, CommandState
from central_hub.fleet import faults_of
from central_hub.store import open_store
from mch_link.sitefiles import hub_view
from mqtt_broker_config.launcher import BrokerProcess
from provisioning import cakey
from provisioning import firmware as fw
from provisioning.site import Site
from tests.firmware.conftest import CHANNEL_HUB, MICROPYTHON, mp_env, wait_for
from tests.firmware.test_e2e_mosquitto import Monitor

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEVICE = "bridge-ctg-007"
KEY_ID = "fw-2026"
FAST_KDF = cakey.ScryptCost(2**10, 8, 1)
SLOT_BYTES = 256 * 1024  # hw_host.Board's default slot size
HEALTH_WINDOW_MS = 20000  # long enough for a loaded machine to reach the hub, short for the rollback half
WAIT_S = 90.0


class RebootingBridge:
    """`micropython -m mchfw.app` run again after every reset, until stopped."""

    def __init__(self, bundle: Path, state: Path, uart: str, log: Path) -> None:
        self.bundle, self.state, self.uart, self.log = bundle, state, uart, log
        self.boots = 0
        self._stop = threading.Event()
        self._proc: subprocess.Popen[str] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        with open(self.log, "a") as out:
            while not self._stop.is_set():
                self.boots += 1
                out.write(f"--- boot {self.boots}\n")
                out.flush()
                self._proc = subprocess.Popen([str(MICROPYTHON), "-X", "heapsize=2M", "-m", "mchfw.app",
                                               str(self.bundle), str(self.state), self.uart],
                                              stdout=out, stderr=subprocess.STDOUT, text=True, env=mp_env())
                code = self._proc.wait()
                if code != 0:  # not a reset: a crash, or killed by stop()
                    out.write(f"--- exit {code}\n")
                    return

    def stop(self) -> None:
        self._stop.set()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        self._thread.join(10)


def _wait(check: Any, timeout_s: float = WAIT_S) -> Any:
    return wait_for(check, timeout_s)


def _image(tag: str, size: int = 20000) -> bytes:
    text = (f"mchfw {tag} " * (size // 10 + 1)).encode()
    return text[:size]


def _release(site: Path, tmp: Path, version: str) -> tuple[bytes, dict[str, Any]]:
    image = _image(version)
    key = fw.load_key(site, KEY_ID, b"firmware key passphrase")
    return image, fw.make_manifest(image, version, "esp32", key, KEY_ID)


def _bundle(enrolled: Path, dst: Path, port: int) -> Path:
    shutil.copytree(enrolled, dst)
    cfg = json.loads((dst / "config.json").read_text())
    cfg.update(broker_port=port, broker_tls_name="localhost",
               bridge={"trace": True, "heartbeat_ms": 2000, "health_window_ms": HEALTH_WINDOW_MS})
    (dst / "config.json").write_text(json.dumps(cfg))
    return dst


def test_published_offered_installed_then_unhealthy_release_rolled_back(
        site: Site, dash_broker: BrokerProcess, hub_factory, tmp_path: Path) -> None:
    # Technician: signing key, releases, the device's bundle trusts the key, factory image 1.0.0 on slot 0.
    fw.generate_key(site.path, KEY_ID, b"firmware key passphrase", FAST_KDF)
    enrolled = site.enroll(DEVICE, "bridge").bundle
    bundle = _bundle(enrolled, tmp_path / "bundle", dash_broker.port)
    fw.write_bundle_keys(site.path, bundle)
    state = tmp_path / "state"
    factory_image, factory = _release(site.path, tmp_path, "1.0.0")
    slots_host.FileSlots(str(state / "slots"), SLOT_BYTES).provision(0, factory_image, factory)
    for version in ("1.1.0", "1.2.0"):
        fw.publish(site.path, *_release(site.path, tmp_path, version))

    hub = hub_factory(site.path, broker=dash_broker)
    store = open_store(hub.db_url)
    commands = Commands(store, AuditLog(store), None, lambda d: False)  # reads the commands the channel issues
    view = hub_view(site.path, CHANNEL_HUB)
    channel_log = open(tmp_path / "channel.log", "w")  # noqa: SIM115 - the channel process writes it
    channel = subprocess.Popen([str(Path(sys.executable).parent / "mch-hub"), "firmware", "run", "--site", str(view),
                                "--hub-id", CHANNEL_HUB, "--db", hub.db_url,
                                "--broker", f"{dash_broker.host}:{dash_broker.port}"],
                               stdout=channel_log, stderr=subprocess.STDOUT)
    monitor = Monitor()
    bridge = RebootingBridge(bundle, state, monitor.path, tmp_path / "bridge.log")

    def fleet_row() -> Any:
        return next((r for r in store.fleet_rows() if r.device_id == DEVICE), None)

    def offer_of(release: str) -> Any:
        return next((c for c in commands.for_device(DEVICE) if c.args.get("release") == release), None)

    try:
        bridge.start()
        assert _wait(lambda: (r := fleet_row()) is not None and r.online and r.firmware == "mchfw/1.0.0"), \
            (fleet_row(), bridge.log.read_text()[-3000:])

        # Offered and installed: the command is answered only once 1.1.0 runs and confirmed itself.
        fw.offer(site.path, "1.1.0", "esp32", [DEVICE], "tech-zhao")
        done = _wait(lambda: (c := offer_of("esp32-1.1.0")) is not None and c.state is not CommandState.SENT and c)
        assert done and (done.state, done.result) == (CommandState.DONE, "installed 1.1.0"), \
            (done, bridge.log.read_text()[-4000:])
        assert done.actor == "technician:tech-zhao"
        assert _wait(lambda: (r := fleet_row()) is not None and r.online and r.firmware == "mchfw/1.1.0"), fleet_row()
        assert bridge.boots == 2  # one reboot into the new image
        audited = [(e.action, e.target) for e in AuditLog(store).entries()]
        assert ("command", DEVICE) in audited and any(a == "firmware-offer" for a, _ in audited)

        # 1.2.0 cannot prove itself: the hub does not acknowledge anything in its health window.
        hub.stop()
        fw.offer(site.path, "1.2.0", "esp32", [DEVICE], "tech-zhao")
        assert _wait(lambda: bridge.boots >= 4, WAIT_S + HEALTH_WINDOW_MS / 1000), bridge.log.read_text()[-4000:]
        hub.start()
        failed = _wait(lambda: (c := offer_of("esp32-1.2.0")) is not None and c.state is not CommandState.SENT and c)
        assert failed and failed.state is CommandState.FAILED and failed.result.startswith("rolled back"), failed
        row = _wait(lambda: (r := fleet_row()) is not None and r.online and faults_of(r) and r)
        assert row.firmware == "mchfw/1.1.0", row  # back on the confirmed image
        assert [f["code"] for f in faults_of(row)] == ["update-rolled-back"], faults_of(row)
        boot = slots_host.FileSlots(str(state / "slots"), SLOT_BYTES)
        assert boot.manifest(boot.running)["version"] == "1.1.0"

        # What the technician sees after syncing the view back.
        status = view / "firmware" / "status.json"
        assert _wait(lambda: status.exists() and '"failed"' in status.read_text()), (tmp_path / "channel.log").read_text()
        [reported] = [h for h in fw.status(site.path) if h["hub"] == CHANNEL_HUB]
        outcome = {d["release"]: (d["state"], d["rolled_back"]) for d in reported["devices"]}
        assert outcome == {"esp32-1.1.0": ("done", False), "esp32-1.2.0": ("failed", True)}
        shown = subprocess.run([str(Path(sys.executable).parent / "mch-hub"), "firmware", "status", "--site",
                                str(view), "--db", hub.db_url], capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        assert {d["release"]: d["state"] for d in json.loads(shown.stdout)["devices"]} == {
            "esp32-1.1.0": "done", "esp32-1.2.0": "failed"}
        channel.send_signal(signal.SIGTERM)
        assert channel.wait(20) == 0, (tmp_path / "channel.log").read_text()  # a clean stop
    finally:
        bridge.stop()
        monitor.close()
        if channel.poll() is None:
            channel.kill()
            channel.wait(10)
        channel_log.close()
        store.close()
