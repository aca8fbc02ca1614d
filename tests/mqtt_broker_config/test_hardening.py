"""The broker's smaller defences: rendered names validated, limits present and enforced, a run dir
the broker user can write into never makes `mch-broker run/reload` (root) follow a symlink."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mqtt_broker_config import render, rundir
from mqtt_broker_config.errors import BrokerConfigError, BrokerError
from mqtt_broker_config.launcher import BrokerProcess, free_port, signal_running
from provisioning.site import Site
from tests.mqtt_broker_config.probe import connect
from tests.support.broker import broker_site, device_tls

ROOT = os.geteuid() == 0


@pytest.fixture
def run_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="mch-broker-hard-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def conf_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_site_id_with_a_newline_is_refused(site: Site, tmp_path: Path) -> None:
    """A site.json edited (or written by an old release) with `x\\npattern readwrite #` once put
    that line into the ACL and the config, where it granted everything to everyone."""
    view = broker_site(site.path)
    info = json.loads((view / "site.json").read_text())
    info["site_id"] = "x\npattern readwrite #"
    (view / "site.json").write_text(json.dumps(info))
    with pytest.raises(BrokerConfigError, match="invalid site id"):
        render.render_acl(view)
    with pytest.raises(BrokerConfigError, match="invalid site id"):
        render.render_config(view, tmp_path, 18883, run_user="mosquitto")


def test_limits_and_guard_are_rendered(site: Site, tmp_path: Path) -> None:
    settings = render.BrokerSettings(max_connections=7, max_queued_bytes=1234)
    lines = conf_lines(render.render_config(broker_site(site.path), tmp_path, 18883, run_user="mosquitto",
                                            settings=settings))
    assert "max_connections 7" in lines and "max_queued_bytes 1234" in lines
    assert lines.index("max_connections 7") > lines.index("listener 18883 127.0.0.1")  # a listener option
    assert f"plugin {render.guard_plugin_path()}" in lines
    assert f"plugin_opt_policy_file {tmp_path.resolve()}/guard.policy" in lines
    assert lines.index(f"plugin {render.guard_plugin_path()}") < lines.index(f"acl_file {tmp_path.resolve()}/acl")
    with pytest.raises(BrokerConfigError, match="max_connections"):
        render.BrokerSettings(max_connections=0)


def test_guard_policy_lists_hubs_and_revoked(site: Site) -> None:
    site.enroll("kiosk-001", "kiosk")
    site.revoke("kiosk-001")
    site.issue_hub_identity("hub-1")
    site.revoke_hub_identity("hub-1")
    policy = conf_lines(render.render_policy(broker_site(site.path)))
    assert policy == ["hub hub", "revoked hub-1", "revoked kiosk-001"]


def test_missing_guard_plugin_stops_the_start(site: Site, run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(render.GUARD_PLUGIN_ENV, str(run_dir / "absent.so"))
    with pytest.raises(BrokerConfigError, match="20-broker.sh"):
        BrokerProcess(broker_site(site.path), run_dir, free_port()).start()


@pytest.mark.integration
def test_max_connections_is_enforced(site: Site, enroll_device, run_dir: Path) -> None:
    proc = BrokerProcess(broker_site(site.path), run_dir, free_port(), settings=render.BrokerSettings(max_connections=2))
    proc.start()
    try:
        tls = [device_tls(enroll_device(f"kiosk-00{i}", "kiosk")) for i in range(1, 4)]
        first, second = connect(proc, tls[0], "kiosk-001"), connect(proc, tls[1], "kiosk-002")
        with pytest.raises(ConnectionRefusedError):
            connect(proc, tls[2], "kiosk-003", timeout_s=2.0)
        first.close()
        second.close()
    finally:
        proc.stop()


@pytest.mark.skipif(not ROOT, reason="the symlink attack matters when mch-broker runs as root")
def test_run_dir_symlinks_are_not_followed(site: Site, run_dir: Path, tmp_path: Path) -> None:
    """The run dir belongs to user mosquitto; a planted symlink must not make root write or chown
    elsewhere (e.g. tls -> /etc, mosquitto.log -> /etc/shadow)."""
    view = broker_site(site.path)
    user = rundir.run_user()
    rundir.prepare(view, run_dir, free_port(), "127.0.0.1", user)
    victim_dir = tmp_path / "victim"
    victim_dir.mkdir()
    victim = tmp_path / "victim-file"
    victim.write_text("precious\n")
    shutil.rmtree(run_dir / "tls")
    (run_dir / "tls").symlink_to(victim_dir)
    with pytest.raises(BrokerConfigError, match="symlink"):
        rundir.sync_tls(view, run_dir, user)
    assert list(victim_dir.iterdir()) == [] and victim_dir.stat().st_uid == 0
    (run_dir / "tls").unlink()
    (run_dir / render.LOG_FILE).unlink()
    (run_dir / render.LOG_FILE).symlink_to(victim)
    (run_dir / render.ACL_FILE).unlink()
    (run_dir / render.ACL_FILE).symlink_to(victim)
    rundir.prepare(view, run_dir, free_port(), "127.0.0.1", user)
    assert victim.read_text() == "precious\n" and victim.stat().st_uid == 0
    assert not (run_dir / render.LOG_FILE).is_symlink() and not (run_dir / render.ACL_FILE).is_symlink()


def test_reload_signals_only_our_mosquitto(site: Site, run_dir: Path) -> None:
    """The pid file is the broker user's: a planted pid (here a sleeping process of ours) is not signalled."""
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        (run_dir / render.PID_FILE).write_text(f"{bystander.pid}\n")
        with pytest.raises(BrokerError, match="not signalling it"):
            signal_running(run_dir, signal.SIGHUP)
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_cli_given_the_whole_site_reads_its_view(site: Site) -> None:
    """`mch-broker ... --site <site>` of earlier releases keeps working, on the broker's view only."""
    cli = shutil.which("mch-broker") or str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "mch-broker")
    result = subprocess.run([cli, "render", "--site", str(site.path), "--acl"], capture_output=True, text=True,
                            timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert f"reading only its broker view {site.path / 'deploy' / 'broker'}" in result.stderr
    assert "user hub" in result.stdout
