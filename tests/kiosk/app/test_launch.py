"""`mch-kiosk run --config kiosk.toml` as an operator starts it: the real console script under Xvfb
on the serial device simulators (pseudo-terminals), joined to the real broker and hub. The bank-card
reader is configured but pcscd is absent for this kiosk (its client socket points nowhere), so the
start-up self-test must report that one fault to the hub in state/1 and stop only the flows that need
the reader. The home screen is captured from the X display; SIGTERM ends the kiosk with status 0 and
no process left. Also the command line's own errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageGrab

from central_hub.fleet import faults_of
from central_hub.store import open_store
from kiosk.app import demo_keys
from kiosk.epp import simulator as epp_sim
from kiosk.epp.driver import PinPad
from kiosk.idcard import simulator as id_sim
from kiosk.ioboard import simulator as board_sim
from kiosk.receipt import simulator as receipt_sim
from kiosk.serial_transport import open_port
from mqtt_broker_config.launcher import BrokerProcess
from provisioning.site import Site
from tests.central_hub.test_commands_e2e import wait_for
from tests.kiosk.app.conftest import SCREENSHOTS
from tests.support.hub import HubFactory
from tests.support.processes import process_tree

pytestmark = [pytest.mark.ui, pytest.mark.integration, pytest.mark.slow]

DEVICE = "kiosk-run"
MCH_KIOSK = Path(sys.executable).with_name("mch-kiosk")  # the console script the package installs
START_S = 60.0
STOP_S = 20.0
WHITE_SHARE = 0.5  # the app's background is white; Xvfb's own root window is not
DARK_SHARE = 0.002  # and its texts are dark
HEADER_Y = 80  # a row inside the header band, below its buttons


@dataclass
class Simulators:
    idcard: id_sim.IdCardHandle
    epp: epp_sim.EppHandle
    board: board_sim.BoardHandle
    receipt: receipt_sim.PrinterHandle


@pytest.fixture
def simulators() -> Iterator[Simulators]:
    sims = Simulators(id_sim.start_on_pty([]), epp_sim.start_on_pty(), board_sim.start_on_pty(),
                      receipt_sim.start_on_pty())
    # the key ceremony was done on this pad before the kiosk starts (the kiosk never loads demo keys itself)
    port = open_port(sims.epp.port_url, device="epp")
    try:
        demo_keys.load_demo_keys(PinPad(port))
    finally:
        port.close()
    yield sims
    for handle in (sims.idcard, sims.epp, sims.board, sims.receipt):
        handle.stop()


def _kiosk_toml(path: Path, sims: Simulators) -> Path:
    path.write_text(f"""\
[idcard]
port = "{sims.idcard.port_url}"

[epp]
port = "{sims.epp.port_url}"

[ioboard]
port = "{sims.board.port_url}"

[receipt]
kind = "serial"
url = "{sims.receipt.port_url}"

[bankcard]
reader = "Kiosk Card Reader 00 00"
call_timeout_s = 2.0
""", "utf-8")
    return path


def _env(display: str, tmp_path: Path) -> dict[str, str]:
    """As an operator's shell has it: without KIVY_NO_FILELOG (the kiosk itself must keep Kivy's file log off)."""
    env = {key: value for key, value in os.environ.items() if key != "KIVY_NO_FILELOG"}
    return {**env, "DISPLAY": display, "KIVY_HOME": str(tmp_path / "kivy"), "KIVY_NO_ARGS": "1",
            "KIVY_NO_CONSOLELOG": "1",
            # pcscd is absent for this kiosk: libpcsclite's socket points nowhere (the suite's pcscd untouched)
            "PCSCLITE_CSOCK_NAME": str(tmp_path / "no-pcscd.comm")}


def _white_share(image: Image.Image) -> float:
    grey = image.convert("L")
    histogram = grey.histogram()
    return sum(histogram[250:]) / (grey.width * grey.height)


def _dark_share(image: Image.Image) -> float:
    grey = image.convert("L")
    return sum(grey.histogram()[:100]) / (grey.width * grey.height)


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive


def test_run_starts_reports_its_self_test_renders_home_and_stops_on_sigterm(
        xvfb_display: str, simulators: Simulators, site: Site, enroll_device: Any, broker: BrokerProcess,
        hub_factory: HubFactory, tmp_path: Path) -> None:
    bundle = enroll_device(DEVICE, "kiosk")
    hub = hub_factory(site.path, broker=broker)
    config = _kiosk_toml(tmp_path / "kiosk.toml", simulators)
    logs = tmp_path / "logs"
    app_config = tmp_path / "app.toml"
    app_config.write_text(f'[app]\nlog_dir = "{logs}"\nexport_dir = "{tmp_path / "usb"}"\nvoice = false\n', "utf-8")
    out = SCREENSHOTS / "launch"
    out.mkdir(parents=True, exist_ok=True)
    store = open_store(hub.db_url)
    proc = subprocess.Popen([str(MCH_KIOSK), "run", "--config", str(config), "--app-config", str(app_config),
                             "--bundle", str(bundle), "--broker", f"{broker.host}:{broker.port}"],
                            cwd=tmp_path, env=_env(xvfb_display, tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        def fleet_row() -> Any:
            return next((r for r in store.fleet_rows() if r.device_id == DEVICE and r.online), None)

        row = wait_for(fleet_row, START_S)
        assert row is not None, f"the hub never saw {DEVICE} online; kiosk exit {proc.poll()}"
        assert row.kind == "kiosk"
        # the birth state already carries the start-up self-test: only the bank-card reader is at fault
        faults = {f["code"]: f for f in faults_of(row)}
        assert faults["card-reader-gone"]["severity"] == "critical", faults
        assert "pcscd" in faults["card-reader-gone"]["detail"]
        assert not {"pinpad-tamper", "pinpad-gone", "idcard-reader", "ioboard", "printer-offline"} & set(faults)

        shots: list[Image.Image] = []

        def home_rendered() -> bool:
            shots[:] = [ImageGrab.grab(xdisplay=xvfb_display)]
            return _white_share(shots[0]) > WHITE_SHARE and _dark_share(shots[0]) > DARK_SHARE

        rendered = wait_for(home_rendered, START_S)
        shot = shots[0]
        shot.save(out / "home.png")  # kept either way: the artefact shows what was on the display
        assert rendered, (f"no home screen on {xvfb_display} (white {_white_share(shot):.2f}, "
                          f"dark {_dark_share(shot):.4f}); kiosk exit {proc.poll()}")
        assert shot.size == (1280, 800)
        # the header band reaches both edges of the panel: the window covers the whole display
        rgb = shot.convert("RGB")
        left, right = rgb.getpixel((1, HEADER_Y)), rgb.getpixel((1278, HEADER_Y))
        assert left == right and isinstance(left, tuple) and len(set(left)) > 1, (left, right)  # coloured

        log_text = (logs / "kiosk.log").read_text("utf-8")
        for device in ("idcard", "pinpad", "motor", "receipt"):
            assert f"self-test: {device} OK" in log_text, log_text
        assert "self-test: bankcard FAULT card-reader-gone" in log_text
        off_line = next(line for line in log_text.splitlines() if "self-test: flows off:" in line)
        off = set(off_line.split("flows off:", 1)[1].replace(",", " ").split())
        # the reader stops signing, unbinding and paying; the A4 printer is not installed: its report only
        assert off == {"sign", "unbind", "pay", "print_report"}, off_line

        pids = process_tree(proc.pid)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=STOP_S)
        assert proc.returncode == 0, stderr[-3000:]
        assert _alive(pids) == [], f"left running after SIGTERM: {_alive(pids)}"
        assert "kiosk app stopped" in (logs / "kiosk.log").read_text("utf-8")
        # only our redacted log: Kivy's file log (KIVY_HOME/logs, out of the scans and the export) stayed off
        kivy_logs = tmp_path / "kivy" / "logs"
        assert not kivy_logs.exists() or [p for p in kivy_logs.rglob("*") if p.is_file()] == []
        assert wait_for(lambda: fleet_row() is None, 10), "the hub still shows the kiosk online (no death state)"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
        store.close()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(MCH_KIOSK), *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "KIVY_NO_ARGS": "1"})


def test_run_with_a_missing_config_file_fails_with_its_name(tmp_path: Path, enroll_device: Any) -> None:
    bundle = enroll_device(DEVICE, "kiosk")
    missing = tmp_path / "nowhere" / "kiosk.toml"
    done = _cli("run", "--config", str(missing), "--bundle", str(bundle), cwd=tmp_path)
    assert done.returncode == 1, done
    assert done.stderr.startswith("mch-kiosk: error:") and str(missing) in done.stderr
    assert "No such file or directory" in done.stderr and "Traceback" not in done.stderr


def test_run_with_a_bad_option_is_a_usage_error(tmp_path: Path) -> None:
    done = _cli("run", "--config", "kiosk.toml", "--bundle", "b", "--fullscreen-please", cwd=tmp_path)
    assert done.returncode == 2, done
    assert "unrecognized arguments: --fullscreen-please" in done.stderr
    missing_bundle = _cli("run", "--config", "kiosk.toml", cwd=tmp_path)
    assert missing_bundle.returncode == 2 and "--bundle" in missing_bundle.stderr


def test_run_help_names_its_options(tmp_path: Path) -> None:
    done = _cli("run", "--help", cwd=tmp_path)
    assert done.returncode == 0, done
    for option in ("--config", "--app-config", "--bundle", "--broker", "--simulate", "--windowed"):
        assert option in done.stdout
    assert done.stdout.startswith("usage: mch-kiosk run")
