"""`mch-provision inspect` and the confirmation asked before a revoke on a terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path

from mch_link.registry import DeviceStatus, load_entry
from provisioning.devsite import DEV_PASSPHRASE, make_dev_site
from provisioning.journal import Journal
from tests.provisioning.test_cli import CLI, EXIT_ERROR, EXIT_OK, TIMEOUT_S, run

PASS = DEV_PASSPHRASE.decode()


def test_inspect_follows_a_device_from_enrolment_to_revocation(tmp_path: Path) -> None:
    site = make_dev_site(tmp_path / "site").path
    assert run("enroll", "--site", site, "kiosk-001", "--kind", "kiosk", "--days", "20", "--technician", "tech-li",
               env_passphrase=PASS).returncode == EXIT_OK
    info = json.loads(run("inspect", "--site", site, "kiosk-001", "--json").stdout)
    assert (info["status"], info["on_crl"], info["renew_due"]) == ("active", False, True)
    assert info["cert_days_left"] in (19, 20) and info["cert_sha256"]
    assert [(e["action"], e["technician"]) for e in info["journal"]] == [("enroll", "tech-li")]
    hint = run("inspect", "--site", site, "kiosk-001").stdout
    assert "mch-provision renew" in hint and "renew --from-hub" in hint and "new id" not in hint
    assert run("revoke", "--site", site, "kiosk-001", env_passphrase=PASS).returncode == EXIT_OK
    info = json.loads(run("inspect", "--site", site, "kiosk-001", "--json").stdout)
    assert (info["status"], info["on_crl"]) == ("revoked", True) and info["revoked_at"]
    table = run("inspect", "--site", site, "kiosk-001")
    assert table.returncode == EXIT_OK and "revoked" in table.stdout and "enroll" in table.stdout
    listed = json.loads(run("list", "--site", site, "--json").stdout)
    assert [(d["device_id"], d["status"]) for d in listed["devices"]] == [("kiosk-001", "revoked")]
    missing = run("inspect", "--site", site, "kiosk-404")
    assert missing.returncode == EXIT_ERROR and "kiosk-404 is not enrolled" in missing.stderr


def _revoke_on_terminal(site: Path, typed: str) -> tuple[int, bytes]:
    return _on_terminal(["revoke", "--site", str(site), "kiosk-001"], typed)


def _on_terminal(argv: list[str], typed: str) -> tuple[int, bytes]:
    controller, terminal = pty.openpty()
    env = {**os.environ, "MCH_CA_PASSPHRASE": PASS}
    proc = subprocess.Popen([CLI, *argv], stdin=terminal, stdout=terminal,
                            stderr=terminal, env=env, start_new_session=True)
    os.close(terminal)
    seen = b""
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while b"to confirm:" not in seen and time.monotonic() < deadline:
            if select.select([controller], [], [], 0.1)[0]:
                seen += os.read(controller, 4096)
        os.write(controller, typed.encode() + b"\n")
        code = proc.wait(timeout=TIMEOUT_S)
        while select.select([controller], [], [], 0.2)[0]:
            try:
                seen += os.read(controller, 4096)
            except OSError:
                break
    finally:
        os.close(controller)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT_S)
    return code, seen


def test_forced_renew_finish_asks_on_a_terminal(tmp_path: Path) -> None:
    """`renew --finish --force` revokes a certificate the hub has not seen replaced: typed confirmation."""
    site = make_dev_site(tmp_path / "site", ["kiosk-001"]).path
    serial = load_entry(site, "kiosk-001").cert_serial
    code, seen = _on_terminal(["renew", "--site", str(site), "kiosk-001", "--finish", "--force"], "kiosk-002")
    assert code == EXIT_ERROR and b"has not seen it switch?" in seen and b"not confirmed" in seen
    assert load_entry(site, "kiosk-001").cert_serial == serial
    assert load_entry(site, "kiosk-001").status is DeviceStatus.ACTIVE


def test_enroll_and_revoke_answer_in_json(tmp_path: Path) -> None:
    site = make_dev_site(tmp_path / "site", []).path
    enrolled = run("enroll", "--site", site, "kiosk-007", "--kind", "kiosk", "--json", env_passphrase=PASS)
    assert enrolled.returncode == EXIT_OK, enrolled.stderr
    entry = load_entry(site, "kiosk-007")
    assert json.loads(enrolled.stdout) == {"device_id": "kiosk-007", "kind": "kiosk", "cert_serial": entry.cert_serial,
                                           "cert_expires": entry.not_after.isoformat(),
                                           "bundle": str(site / "bundles" / "kiosk-007")}
    revoked = run("revoke", "--site", site, "kiosk-007", "--yes", "--json", env_passphrase=PASS)
    assert revoked.returncode == EXIT_OK, revoked.stderr
    assert json.loads(revoked.stdout) == {"revoked": "kiosk-007", "kind": "kiosk", "cert_serial": entry.cert_serial}
    assert load_entry(site, "kiosk-007").status is DeviceStatus.REVOKED


def test_revoke_asks_on_a_terminal(tmp_path: Path) -> None:
    site = make_dev_site(tmp_path / "site", ["kiosk-001"]).path
    code, seen = _revoke_on_terminal(site, "kiosk-002")
    assert code == EXIT_ERROR and b"Revoke kiosk-001?" in seen and b"not confirmed" in seen
    assert load_entry(site, "kiosk-001").status is DeviceStatus.ACTIVE
    code, seen = _revoke_on_terminal(site, "kiosk-001")
    assert code == EXIT_OK, seen
    assert load_entry(site, "kiosk-001").status is DeviceStatus.REVOKED
    assert [e.outcome.split(":")[0] for e in Journal(site).verify()] == ["error", "ok"]
