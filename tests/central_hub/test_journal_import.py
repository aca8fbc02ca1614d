"""Issue 16: the technicians' journal, synced to the hub's view, read into the hub's audit log;
`mch-hub audit show` lists technician actions; a tampered or shortened copy is refused, nothing
imported, and the refusal is itself audited."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from central_hub.audit import AuditLog
from central_hub.config import WorkerConfig
from central_hub.journal_import import REFUSED_ACTION
from central_hub.store import open_store
from central_hub.storeside import StoreSide
from mch_link.journal_chain import JOURNAL_DIR, JOURNAL_FILE
from mch_link.sitefiles import hub_view
from provisioning.devsite import DEV_PASSPHRASE
from provisioning.site import Site
from tests.provisioning.test_cli import EXIT_ERROR, EXIT_OK, run

PASS = DEV_PASSPHRASE.decode()


def hub(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "central_hub.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=60)


def _hub_db(view: Path) -> str:
    state = view / "hub" / "state"
    state.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{state / 'hub.db'}"
    open_store(url).close()
    return url


def _audit(url: str) -> list[tuple[str, str, str]]:
    store = open_store(url)
    try:
        return [(e.actor, e.action, e.target) for e in reversed(AuditLog(store).entries(limit=100))]
    finally:
        store.close()


def test_journal_into_the_audit_log_once_then_tamper_refused(site: Site) -> None:
    view = hub_view(site.path, "hub")
    url = _hub_db(view)
    assert run("enroll", "--site", site.path, "kiosk-101", "--kind", "kiosk", "--technician", "tech-wang",
               env_passphrase=PASS).returncode == EXIT_OK
    assert run("revoke", "--site", site.path, "kiosk-101", "--yes", "--technician", "tech-wang",
               env_passphrase=PASS).returncode == EXIT_OK
    synced = run("journal", "sync", "--site", site.path, "--technician", "tech-wang")
    assert synced.returncode == EXIT_OK, synced.stderr
    first = hub("journal", "import", "--site", view)
    assert first.returncode == EXIT_OK, first.stderr
    copy = view / JOURNAL_DIR / JOURNAL_FILE
    lines = copy.read_bytes().splitlines()
    assert f"{len(lines)} new technician journal entries" in first.stdout
    rows = _audit(url)
    assert ("technician:tech-wang", "technician.enroll", "kiosk-101") in rows
    assert ("technician:tech-wang", "technician.revoke", "kiosk-101") in rows
    shown = hub("audit", "show", "--site", view)
    assert shown.returncode == EXIT_OK and "technician.revoke" in shown.stdout and "tech-wang" in shown.stdout

    again = hub("journal", "import", "--site", view)
    assert again.returncode == EXIT_OK and again.stdout.startswith("0 new")
    assert len(_audit(url)) == len(rows)  # nothing imported twice

    # an edit on the hub's copy (the revoke made to look like someone else's) is refused
    entry = json.loads(lines[1])
    entry["technician"] = "someone-else"
    copy.write_bytes(b"\n".join([lines[0], json.dumps(entry).encode(), *lines[2:]]) + b"\n")
    tampered = hub("journal", "import", "--site", view)
    assert tampered.returncode == EXIT_ERROR
    assert "tampered at entry 2" in tampered.stderr and "mch-provision journal verify" in tampered.stderr
    after = _audit(url)
    assert after[:-1] == rows and after[-1] == ("hub", "technician-journal-refused", JOURNAL_FILE)
    assert hub("audit", "verify", "--site", view).returncode == EXIT_OK  # the hub's own chain is intact

    copy.write_bytes(lines[0] + b"\n")  # cut back to before what was imported
    cut = hub("journal", "import", "--site", view)
    assert cut.returncode == EXIT_ERROR and "cut off" in cut.stderr


def test_new_entries_after_an_import_are_appended(site: Site) -> None:
    view = hub_view(site.path, "hub")
    url = _hub_db(view)
    assert run("enroll", "--site", site.path, "kiosk-102", "--kind", "kiosk", env_passphrase=PASS).returncode == EXIT_OK
    assert run("journal", "sync", "--site", site.path).returncode == EXIT_OK
    assert hub("journal", "import", "--site", view).returncode == EXIT_OK
    before = len(_audit(url))
    assert run("enroll", "--site", site.path, "kiosk-103", "--kind", "kiosk", env_passphrase=PASS).returncode == EXIT_OK
    assert run("journal", "sync", "--site", site.path).returncode == EXIT_OK
    more = hub("journal", "import", "--site", view)
    assert more.returncode == EXIT_OK
    rows = _audit(url)
    added = rows[before:]
    assert [a for _, a, t in added if t == "kiosk-103"] == ["technician.enroll"]
    assert hub("journal", "import", "--site", site.path).returncode == EXIT_ERROR  # never the whole site


def test_the_running_hub_imports_a_sync_that_lands_while_it_runs(site: Site, tmp_path: Path) -> None:
    """The store half looks at the synced copy beside its batches: a sync done while the hub runs
    reaches the audit log without anyone running `mch-hub journal import`; a tampered copy is
    refused once (one refusal row), not at every batch."""
    view = hub_view(site.path, "hub")
    side = StoreSide(WorkerConfig.from_site(view, f"sqlite:///{tmp_path / 'hub.db'}", tmp_path / "state"),
                     threading.Event())
    try:
        side.journal.interval_s = 0.0  # look at every batch (30 s in production)
        assert side.commit([]) == []  # nothing synced yet: nothing imported, ingest unaffected
        assert run("enroll", "--site", site.path, "kiosk-104", "--kind", "kiosk", "--technician", "tech-li",
                   env_passphrase=PASS).returncode == EXIT_OK
        assert run("journal", "sync", "--site", site.path, "--technician", "tech-li").returncode == EXIT_OK
        side.commit([])
        rows = [(e.actor, e.action, e.target) for e in AuditLog(side.store).entries(limit=100)]
        assert ("technician:tech-li", "technician.enroll", "kiosk-104") in rows

        copy = view / JOURNAL_DIR / JOURNAL_FILE
        lines = copy.read_bytes().splitlines()
        entry = json.loads(lines[0])
        entry["subject"] = "kiosk-999"
        copy.write_bytes(b"\n".join([json.dumps(entry).encode(), *lines[1:]]) + b"\n")
        for _ in range(3):
            assert side.commit([]) == []
        actions = [e.action for e in AuditLog(side.store).entries(limit=100)]
        assert actions.count(REFUSED_ACTION) == 1
        assert actions.count("technician.enroll") == 1
    finally:
        side.close()
