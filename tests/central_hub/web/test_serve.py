"""`mch-hub web` as a process: serves on an ephemeral port, stops cleanly on SIGTERM, clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from central_hub.store import open_store
from provisioning.site import Site
from tests.central_hub.web.browser import web_process
from tests.central_hub.web.conftest import DEVICES

pytestmark = pytest.mark.integration


def test_serves_and_stops_cleanly(dash_site: Site, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'web.db'}"
    open_store(url).close()
    web = web_process(dash_site.path, url, tmp_path / "web.log")
    try:
        assert httpx.get(f"{web.url}/healthz").text == f"ok {len(DEVICES)} devices\n"
        assert httpx.get(f"{web.url}/fleet").status_code == 303
    finally:
        assert web.stop() == 0


def test_bad_arguments(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "central_hub.cli", "web"]
    missing = subprocess.run([*cli, "--site", str(tmp_path / "nowhere"), "--db", f"sqlite:///{tmp_path / 'x.db'}"],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "mch-hub: error:" in missing.stderr and "site.json" in missing.stderr
    usage = subprocess.run([*cli, "--port", "x"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2
