"""`mch-provision`, run as the technician runs it: the installed entry point in a subprocess."""

from __future__ import annotations

import os
import pty
import select
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from mch_link.registry import DeviceStatus, load_registry
from provisioning import pki
from provisioning.passphrase import ENV_VAR, ROOT_ENV_VAR

CLI = shutil.which("mch-provision") or str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "mch-provision")
TIMEOUT_S = 30
PASSPHRASE = "correct horse battery staple"
ROOT_PASSPHRASE = "a different root passphrase"
EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def run(*args: str | Path, env_passphrase: str | None = None,
        env_root: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in (ENV_VAR, ROOT_ENV_VAR)}
    if env_passphrase is not None:
        env[ENV_VAR] = env_passphrase
    if env_root is not None:
        env[ROOT_ENV_VAR] = env_root
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=TIMEOUT_S,
                          stdin=subprocess.DEVNULL, env=env, check=False)


@pytest.fixture
def pass_file(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, f"{PASSPHRASE}\n".encode())
    os.close(fd)
    return path


@pytest.fixture
def root_pass_file(tmp_path: Path) -> Path:
    path = tmp_path / "root-passphrase"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, f"{ROOT_PASSPHRASE}\n".encode())
    os.close(fd)
    return path


@pytest.fixture
def site_dir(tmp_path: Path, pass_file: Path, root_pass_file: Path) -> Path:
    site = tmp_path / "site"
    result = run("init-site", "--site", site, "--site-id", "ward-7", "--passphrase-file", pass_file,
                 "--root-passphrase-file", root_pass_file, "--broker-host", "10.0.0.5", "--hub", "hub",
                 "--hub", "hub-1")
    assert result.returncode == EXIT_OK, result.stderr
    return site


def test_help() -> None:
    result = run("--help")
    assert result.returncode == EXIT_OK
    for command in ("init-site", "enroll", "revoke", "list", "renew-crl", "issue-hub", "export", "handover", "migrate"):
        assert command in result.stdout
    enroll_help = run("enroll", "--help")
    assert enroll_help.returncode == EXIT_OK and "--csr" in enroll_help.stdout and "--kind" in enroll_help.stdout


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run().returncode == EXIT_USAGE
    assert run("enroll", "kiosk-001").returncode == EXIT_USAGE  # no --site, no --kind
    result = run("enroll", "--site", tmp_path, "kiosk-001", "--kind", "toaster")
    assert result.returncode == EXIT_USAGE and "invalid choice: 'toaster'" in result.stderr


def test_passphrase_is_not_an_option() -> None:
    result = run("init-site", "--site", "x", "--site-id", "y", "--passphrase", PASSPHRASE)
    assert result.returncode == EXIT_USAGE and "unrecognized arguments" in result.stderr


def test_init_enroll_list_revoke(site_dir: Path, pass_file: Path) -> None:
    enrolled = run("enroll", "--site", site_dir, "kiosk-001", "--kind", "kiosk", env_passphrase=PASSPHRASE)
    assert enrolled.returncode == EXIT_OK, enrolled.stderr
    assert "enrolled kiosk-001 (kiosk)" in enrolled.stdout
    assert run("enroll", "--site", site_dir, "station-01", "--kind", "station",
               "--passphrase-file", pass_file).returncode == EXIT_OK
    listing = run("list", "--site", site_dir)
    assert listing.returncode == EXIT_OK
    lines = listing.stdout.splitlines()
    assert "2 device(s)" in lines[0]
    assert lines[2].split()[:3] == ["kiosk-001", "kiosk", "active"]
    revoked = run("revoke", "--site", site_dir, "kiosk-001", "--passphrase-file", pass_file)
    assert revoked.returncode == EXIT_OK and "mch-broker reload" in revoked.stdout
    assert load_registry(site_dir)["kiosk-001"].status is DeviceStatus.REVOKED
    assert run("list", "--site", site_dir).stdout.splitlines()[2].split()[2] == "revoked"


def test_enroll_with_csr(site_dir: Path, pass_file: Path, tmp_path: Path) -> None:
    csr = tmp_path / "bridge.csr.pem"
    csr.write_bytes(pki.make_csr("bridge-ctg-001", pki.new_key()))
    bundle = tmp_path / "bridge-bundle"
    result = run("enroll", "--site", site_dir, "bridge-ctg-001", "--kind", "bridge", "--csr", csr,
                 "--bundle", bundle, "--passphrase-file", pass_file)
    assert result.returncode == EXIT_OK, result.stderr
    assert (bundle / "device.crt.pem").is_file() and not (bundle / "device.key.pem").exists()
    assert stat.S_IMODE((bundle / "link-keys.json").stat().st_mode) == 0o600


def test_missing_passphrase_is_a_clear_error(site_dir: Path) -> None:
    result = run("enroll", "--site", site_dir, "kiosk-001", "--kind", "kiosk")
    assert result.returncode == EXIT_ERROR
    assert f"no site CA passphrase: give --passphrase-file FILE or set {ENV_VAR}" in result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_passphrase_is_a_clear_error(site_dir: Path) -> None:
    result = run("enroll", "--site", site_dir, "kiosk-001", "--kind", "kiosk", env_passphrase="wrong wrong wrong")
    assert result.returncode == EXIT_ERROR
    assert "issuing.key.json: wrong passphrase" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (site_dir / "registry" / "kiosk-001.json").exists()


def test_enrolling_an_existing_id_is_a_clear_error(site_dir: Path, pass_file: Path) -> None:
    assert run("enroll", "--site", site_dir, "kiosk-001", "--kind", "kiosk",
               "--passphrase-file", pass_file).returncode == EXIT_OK
    again = run("enroll", "--site", site_dir, "kiosk-001", "--kind", "kiosk", "--passphrase-file", pass_file)
    assert again.returncode == EXIT_ERROR
    assert "kiosk-001 is already enrolled" in again.stderr and "never reused" in again.stderr


def test_other_clear_errors(site_dir: Path, pass_file: Path, tmp_path: Path) -> None:
    loose = tmp_path / "loose-passphrase"
    fd = os.open(loose, os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, PASSPHRASE.encode())
    os.close(fd)
    cases = [
        (("revoke", "--site", site_dir, "kiosk-404", "--passphrase-file", pass_file), "kiosk-404 is not enrolled"),
        (("list", "--site", tmp_path / "nowhere"), "is not a site"),
        (("renew-crl", "--site", site_dir, "--passphrase-file", loose), "readable by others (mode 644)"),
        (("init-site", "--site", site_dir, "--site-id", "again", "--passphrase-file", pass_file,
          "--root-passphrase-file", pass_file), "already a site"),
        (("enroll", "--site", site_dir, "Bad_Id", "--kind", "sim", "--passphrase-file", pass_file),
         "invalid device id"),
        (("enroll", "--site", site_dir, "kiosk-009", "--kind", "kiosk", "--passphrase-file", tmp_path / "absent"),
         "cannot read passphrase file"),
        (("enroll", "--site", site_dir, "kiosk-009", "--kind", "kiosk", "--csr", tmp_path / "absent.csr",
          "--passphrase-file", pass_file), "absent.csr"),
    ]
    for args, message in cases:
        result = run(*args)
        assert result.returncode == EXIT_ERROR, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)


def test_init_site_wants_a_long_passphrase(tmp_path: Path) -> None:
    result = run("init-site", "--site", tmp_path / "s", "--site-id", "x", env_passphrase="short",
                 env_root=ROOT_PASSPHRASE)
    assert result.returncode == EXIT_ERROR and "at least 12 characters" in result.stderr
    assert not (tmp_path / "s").exists()


def test_init_site_wants_a_separate_root_passphrase(tmp_path: Path, pass_file: Path) -> None:
    result = run("init-site", "--site", tmp_path / "s", "--site-id", "x", "--passphrase-file", pass_file)
    assert result.returncode == EXIT_ERROR
    assert f"no root CA passphrase: give --root-passphrase-file FILE or set {ROOT_ENV_VAR}" in result.stderr
    same = run("init-site", "--site", tmp_path / "s", "--site-id", "x", "--passphrase-file", pass_file,
               env_root=PASSPHRASE)
    assert same.returncode == EXIT_ERROR and "must differ" in same.stderr
    assert not (tmp_path / "s").exists()


def test_init_site_refuses_a_site_id_that_could_inject_config(tmp_path: Path, pass_file: Path) -> None:
    result = run("init-site", "--site", tmp_path / "s", "--site-id", "x\npattern readwrite #",
                 "--passphrase-file", pass_file, env_root=ROOT_PASSPHRASE)
    assert result.returncode == EXIT_ERROR and "invalid site id" in result.stderr
    assert not (tmp_path / "s" / "site.json").exists()


def test_export_and_handover(site_dir: Path, pass_file: Path, tmp_path: Path) -> None:
    assert run("enroll", "--site", site_dir, "kiosk-001", "--kind", "kiosk",
               "--passphrase-file", pass_file).returncode == EXIT_OK
    exported = run("export", "--site", site_dir)
    assert exported.returncode == EXIT_OK, exported.stderr
    assert f"view {site_dir / 'deploy' / 'broker'}" in exported.stdout
    assert (site_dir / "deploy" / "hub-1" / "registry" / "kiosk-001.json").is_file()
    medium = tmp_path / "usb"
    handed = run("handover", "--site", site_dir, "kiosk-001", "--to", medium)
    assert handed.returncode == EXIT_OK, handed.stderr
    assert (medium / "device.key.pem").is_file() and not (site_dir / "bundles" / "kiosk-001" / "device.key.pem").exists()
    again = run("handover", "--site", site_dir, "kiosk-001", "--to", tmp_path / "usb2")
    assert again.returncode == EXIT_ERROR and "already handed over" in again.stderr


def test_renew_crl(site_dir: Path, pass_file: Path) -> None:
    not_due = run("renew-crl", "--site", site_dir, "--if-due", "7", "--passphrase-file", pass_file)
    assert not_due.returncode == EXIT_OK and "not due" in not_due.stdout
    renewed = run("renew-crl", "--site", site_dir, "--days", "45", "--passphrase-file", pass_file)
    assert renewed.returncode == EXIT_OK and "CRL re-issued" in renewed.stdout
    due = run("renew-crl", "--site", site_dir, "--if-due", "60", "--passphrase-file", pass_file)
    assert due.returncode == EXIT_OK and "CRL re-issued" in due.stdout
    assert run("renew-crl", "--site", site_dir, "--days", "0", "--passphrase-file", pass_file).returncode == EXIT_ERROR
    assert "RENEW NOW" not in run("list", "--site", site_dir).stdout
    assert run("renew-crl", "--site", site_dir, "--days", "3", "--passphrase-file", pass_file).returncode == EXIT_OK
    assert "RENEW NOW" in run("list", "--site", site_dir).stdout.splitlines()[0]


def test_issue_hub(site_dir: Path, pass_file: Path) -> None:
    result = run("issue-hub", "--site", site_dir, "hub-2", "--passphrase-file", pass_file)
    assert result.returncode == EXIT_OK and (site_dir / "hub" / "hub-2.crt.pem").is_file()


def test_interactive_prompt_on_a_terminal(site_dir: Path) -> None:
    """No file, no environment: on a terminal the passphrase is prompted for (without echo)."""
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in (ENV_VAR, ROOT_ENV_VAR)}
    proc = subprocess.Popen([CLI, "renew-crl", "--site", str(site_dir)], stdin=terminal, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, start_new_session=True)
    os.close(terminal)
    try:
        # getpass flushes pending terminal input (TCSAFLUSH) before its prompt: type after the prompt
        assert proc.stderr is not None
        prompt = b""
        deadline = time.monotonic() + TIMEOUT_S
        while b"Site CA passphrase:" not in prompt and time.monotonic() < deadline:
            if select.select([proc.stderr], [], [], 0.1)[0]:
                prompt += os.read(proc.stderr.fileno(), 1024)
        os.write(controller, f"{PASSPHRASE}\n".encode())
        out, err = proc.communicate(timeout=TIMEOUT_S)
    finally:
        os.close(controller)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT_S)
    assert proc.returncode == EXIT_OK, prompt + err
    assert b"Site CA passphrase:" in prompt and b"CRL re-issued" in out
    assert PASSPHRASE.encode() not in out + err


def test_revoke_a_hub_identity(site_dir: Path, pass_file: Path) -> None:
    result = run("revoke", "--site", site_dir, "hub-1", "--passphrase-file", pass_file)
    assert result.returncode == EXIT_OK and "revoked hub identity hub-1" in result.stdout
    assert '"hub-1"' not in (site_dir / "site.json").read_text()
