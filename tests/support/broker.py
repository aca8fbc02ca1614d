"""Fixtures: a real mosquitto for the `site` fixture, and TLS client helpers.

- `broker` -> mqtt_broker_config.launcher.BrokerProcess, started on an ephemeral port of
  127.0.0.1 with the project's config; stopped (and its run dir removed) at teardown.
  `broker.host`, `broker.port`, `broker.reload()` after a revoke, `broker.restart()`,
  `broker.kill()`, `broker.log_text()`.
- `start_broker(site_dir, run_dir=None, port=None)`: the same without pytest; a full site is
  replaced by its broker view (<site>/deploy/broker), the only thing the broker may read.
- `device_tls(bundle)`, `hub_tls(site_dir, hub_id)`: TlsFiles for paho `tls_set(...)` or the
  mosquitto_pub/sub `--cafile/--cert/--key` options.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mch_link.registry import hub_identity
from mch_link.sitefiles import broker_view, ca_keys_in
from mqtt_broker_config.errors import BrokerStartError
from mqtt_broker_config.launcher import BrokerProcess, free_port
from provisioning.site import Site

START_ATTEMPTS = 3  # an ephemeral port can be taken between free_port() and mosquitto's bind
RUN_DIR_PREFIX = "mch-broker-"


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path

    def cli_args(self) -> list[str]:
        """Options for mosquitto_pub / mosquitto_sub."""
        return ["--cafile", str(self.ca), "--cert", str(self.cert), "--key", str(self.key)]


def device_tls(bundle: Path) -> TlsFiles:
    return TlsFiles(bundle / "ca.pem", bundle / "device.crt.pem", bundle / "device.key.pem")


def hub_tls(site_dir: Path, hub_id: str = "hub") -> TlsFiles:
    ident = hub_identity(site_dir, hub_id)
    return TlsFiles(ident.ca, ident.cert, ident.key)


def broker_site(site_dir: Path) -> Path:
    """What the broker is given: the broker's view of a technician's site (provisioning keeps
    <site>/deploy/broker current), or `site_dir` itself when it already is a view."""
    return broker_view(site_dir) if ca_keys_in(site_dir) else Path(site_dir)


def start_broker(site_dir: Path, run_dir: Path | None = None, port: int | None = None) -> BrokerProcess:
    """A started broker on the broker's view of `site_dir`. The run dir defaults to a fresh
    /tmp/mch-broker-* (mosquitto, dropped from root to its own user, cannot enter pytest's
    0700 tmp_path)."""
    site_dir = broker_site(site_dir)
    run = run_dir or Path(tempfile.mkdtemp(prefix=RUN_DIR_PREFIX))
    attempts = START_ATTEMPTS if port is None else 1
    for attempt in range(1, attempts + 1):
        proc = BrokerProcess(site_dir, run, port or free_port())
        try:
            proc.start()
            return proc
        except BrokerStartError:
            if attempt == attempts:
                if run_dir is None:
                    shutil.rmtree(run, ignore_errors=True)
                raise
    raise BrokerStartError(f"no start attempt made for {site_dir}")


@pytest.fixture
def broker(site: Site) -> Iterator[BrokerProcess]:
    proc = start_broker(site.path)
    try:
        yield proc
    finally:
        proc.stop()
        shutil.rmtree(proc.run_dir, ignore_errors=True)
