"""Issue 10, scenario 8 leftover: every hub entry point refuses the technician's whole site
directory (CA keys, device TLS keys) and names its deploy view instead."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from central_hub.config import WorkerConfig, check_hub_site
from central_hub.errors import HubConfigError
from mch_link.sitefiles import hub_view
from provisioning.site import Site


def hub_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "central_hub.cli", *args], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("argv", [
    ("run",), ("status",), ("stats",), ("quarantine",), ("feed", "status"), ("feed", "init-key"),
    ("audit", "show"), ("user", "list"), ("report", "--year", "2026"), ("backup", "--out", "OUT"),
])
def test_every_subcommand_refuses_the_whole_site_and_names_the_view(site: Site, tmp_path: Path,
                                                                     argv: tuple[str, ...]) -> None:
    args = [a.replace("OUT", str(tmp_path / "b")) for a in argv]
    done = hub_cli(*args, "--site", str(site.path))
    assert done.returncode == 1, done.stderr
    assert "whole site directory" in done.stderr and str(hub_view(site.path, "hub")) in done.stderr
    assert not (site.path / "hub" / "state").exists()  # nothing was created in the site itself


def test_the_fix_names_the_view_of_the_hub_identity_given(site: Site) -> None:
    site.issue_hub_identity("hub-2")
    done = hub_cli("web", "--site", str(site.path), "--hub-id", "hub-2", "--port", "0")
    assert done.returncode == 1 and str(hub_view(site.path, "hub-2")) in done.stderr


def test_worker_config_refuses_the_site_and_accepts_its_view(site: Site) -> None:
    with pytest.raises(HubConfigError, match="deploy/hub"):
        WorkerConfig.from_site(site.path)
    view = hub_view(site.path, "hub")
    config = WorkerConfig.from_site(view)
    assert config.site_dir == view and config.identity.key.is_relative_to(view)
    assert check_hub_site(view) == view
