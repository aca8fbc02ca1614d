"""`mch-hub feed ...` from the command line: key, status, dead letters, requeue, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from central_hub.datakey import load_or_create
from central_hub.feed import blindindex, outbox
from central_hub.store import open_store
from tests.central_hub.feed import records
from tests.support.hub import hub_site


def hub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "central_hub.cli", *args], capture_output=True, text=True,
                          timeout=60)


def test_init_key_status_dead_and_requeue(site: Any) -> None:
    state = hub_site(site.path) / "hub" / "state"
    db = f"sqlite:///{state / 'hub.db'}"
    r = hub("feed", "init-key", "--site", str(hub_site(site.path)))
    assert r.returncode == 0 and oct((state / blindindex.KEY_FILE).stat().st_mode)[-3:] == "600"
    assert hub("feed", "init-key", "--site", str(hub_site(site.path))).returncode == 1  # never replaced silently
    assert hub("feed", "init-key", "--site", str(hub_site(site.path)), "--exist-ok").returncode == 0
    store = open_store(db)
    records.commit(store, load_or_create(state), [("kiosk-001", i, "delivery/1", records.delivery(i)) for i in (1, 2)])
    first = outbox.head(store, 1)[0]
    outbox.save(store, [outbox.Result(first.id, outbox.DEAD, 1, error="HTTP 422: no", http_status=422)])
    store.close()
    status = json.loads(hub("feed", "status", "--site", str(hub_site(site.path)), "--json").stdout)
    assert (status["pending"], status["dead"]) == (1, 1)
    assert "pending" in hub("feed", "status", "--site", str(hub_site(site.path))).stdout
    dead = json.loads(hub("feed", "dead", "--site", str(hub_site(site.path)), "--json").stdout)
    assert [(d["id"], d["http_status"]) for d in dead] == [(first.id, 422)]
    assert hub("feed", "requeue", "--site", str(hub_site(site.path)), "--all-dead").returncode == 2  # a reason is required
    r = hub("feed", "requeue", "--site", str(hub_site(site.path)), "--id", str(first.id), "--reason", "profile fixed")
    assert r.returncode == 0 and "requeued 1" in r.stdout
    r = hub("feed", "run", "--site", str(hub_site(site.path)), "--county", "http://127.0.0.1:1/fhir",
            "--state-dir", str(site.path / "elsewhere"), "--db", db)
    assert r.returncode == 1 and "county matching key" in r.stderr
