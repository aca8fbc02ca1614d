"""Fixtures: a site (CA, broker and hub identities, registry) and enrolled devices.

- `site` -> provisioning.site.Site: a fresh site in tmp_path/"site", passphrase
  "test-passphrase" (root CA: "test-root-passphrase"), hub identity "hub", broker host
  127.0.0.1. `site.path` is the directory; `site.hub_identity("hub")` gives the hub's
  cert/key/CA paths; `mch_link.sitefiles.broker_view(site.path)` / `hub_view(site.path, "hub")`
  the deploy views the broker and a hub worker run on (kept current by every site change).
- `enroll_device(device_id, kind="sim") -> Path`: enrols a device in `site`, returns its
  bundle dir (device.crt.pem, device.key.pem, ca.pem, link-keys.json, config.json).
- `make_dev_site(path, device_ids)` (provisioning.devsite) does the same without pytest.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from provisioning.devsite import DEV_PASSPHRASE, make_dev_site
from provisioning.site import Site

TEST_PASSPHRASE = DEV_PASSPHRASE  # b"test-passphrase"

EnrollDevice = Callable[..., Path]


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """An initialised site (about 50 ms: ECDSA P-256 keys are cheap)."""
    return make_dev_site(tmp_path / "site", passphrase=TEST_PASSPHRASE)


@pytest.fixture
def enroll_device(site: Site) -> EnrollDevice:
    def enroll(device_id: str, kind: str = "sim") -> Path:
        return site.enroll(device_id, kind).bundle

    return enroll
