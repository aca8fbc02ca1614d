"""Every technician action through `mch-provision` lands in the journal; a broken journal stops work."""

from __future__ import annotations

import json
from pathlib import Path

from provisioning.devsite import DEV_PASSPHRASE, make_dev_site
from provisioning.journal import JOURNAL_FILE, Journal, read_entries
from tests.provisioning.test_cli import EXIT_ERROR, EXIT_OK, run

PASS = DEV_PASSPHRASE.decode()


def _site(tmp_path: Path) -> Path:
    return make_dev_site(tmp_path / "site", []).path


def test_actions_and_failures_are_journaled_with_the_technician(tmp_path: Path) -> None:
    site = _site(tmp_path)
    ok = run("enroll", "--site", site, "kiosk-001", "--kind", "kiosk", "--technician", "tech-li", env_passphrase=PASS)
    assert ok.returncode == EXIT_OK, ok.stderr
    again = run("enroll", "--site", site, "kiosk-001", "--kind", "kiosk", "--technician", "tech-li",
                env_passphrase=PASS)
    assert again.returncode == EXIT_ERROR
    wrong = run("revoke", "--site", site, "kiosk-001", "--technician", "tech-wang", env_passphrase="not the passphrase")
    assert wrong.returncode == EXIT_ERROR
    revoked = run("revoke", "--site", site, "kiosk-001", "--technician", "tech-wang", env_passphrase=PASS)
    assert revoked.returncode == EXIT_OK, revoked.stderr
    listed = run("list", "--site", site)  # read-only: not journaled
    assert listed.returncode == EXIT_OK

    shown = run("journal", "show", "--site", site, "--json")
    assert shown.returncode == EXIT_OK, shown.stderr
    entries = json.loads(shown.stdout)
    assert [(e["action"], e["subject"], e["technician"]) for e in entries] == [
        ("enroll", "kiosk-001", "tech-li"), ("enroll", "kiosk-001", "tech-li"),
        ("revoke", "kiosk-001", "tech-wang"), ("revoke", "kiosk-001", "tech-wang")]
    assert [e["outcome"].split(":")[0] for e in entries] == ["ok", "error", "error", "ok"]
    assert "already enrolled" in entries[1]["outcome"]
    assert entries[0]["details"]["kind"] == "kiosk"
    assert PASS not in shown.stdout  # passphrases never reach the journal


def test_tampered_journal_is_reported_and_blocks_further_actions(tmp_path: Path) -> None:
    site = _site(tmp_path)
    assert run("enroll", "--site", site, "kiosk-001", "--kind", "kiosk", env_passphrase=PASS).returncode == EXIT_OK
    assert run("enroll", "--site", site, "kiosk-002", "--kind", "kiosk", env_passphrase=PASS).returncode == EXIT_OK
    verify = run("journal", "verify", "--site", site)
    assert verify.returncode == EXIT_OK and "journal intact: 2 entries" in verify.stdout

    path = Journal(site).path
    path.write_bytes(path.read_bytes().replace(b"kiosk-002", b"kiosk-003"))
    verify = run("journal", "verify", "--site", site)
    assert verify.returncode == EXIT_ERROR
    assert "tampered at entry 2" in verify.stderr
    blocked = run("enroll", "--site", site, "kiosk-004", "--kind", "kiosk", env_passphrase=PASS)
    assert blocked.returncode == EXIT_ERROR
    assert "Nothing was done" in blocked.stderr and "journal verify --against" in blocked.stderr
    assert not (site / "registry" / "kiosk-004.json").exists()


def test_sync_to_the_hub_view_then_again_after_more_work(tmp_path: Path) -> None:
    site = _site(tmp_path)
    assert run("enroll", "--site", site, "kiosk-001", "--kind", "kiosk", env_passphrase=PASS).returncode == EXIT_OK
    synced = run("journal", "sync", "--site", site, "--json")
    assert synced.returncode == EXIT_OK, synced.stderr
    report = json.loads(synced.stdout)
    copy = Path(report["to"])
    assert report["synced"] == 1 and copy == site / "deploy" / "hub" / "journal"
    assert run("revoke", "--site", site, "kiosk-001", env_passphrase=PASS).returncode == EXIT_OK
    # the first sync was itself journaled: enroll, sync, revoke
    assert json.loads(run("journal", "sync", "--site", site, "--json").stdout)["synced"] == 2
    assert [e.action for e in read_entries(copy / JOURNAL_FILE)] == ["enroll", "journal", "revoke"]
    against = run("journal", "verify", "--site", site, "--against", copy, "--json")
    assert against.returncode == EXIT_OK and json.loads(against.stdout)["entries"] == 4


def test_the_site_journal_starts_with_init_site(tmp_path: Path) -> None:
    site = tmp_path / "site"
    made = run("init-site", "--site", site, "--site-id", "ward-9", "--technician", "tech-li",
               env_passphrase="a long site passphrase", env_root="a long root passphrase")
    assert made.returncode == EXIT_OK, made.stderr
    first = Journal(site).verify()[0]
    assert (first.seq, first.action, first.subject, first.technician) == (1, "init-site", "ward-9", "tech-li")
    assert "a long" not in Journal(site).path.read_text()
