"""A development/test site in one call, for benchmarks, `make run` and the test fixtures."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mch_link.registry import DeviceKind
from provisioning.cakey import ScryptCost
from provisioning.site import Site

DEV_PASSPHRASE = b"test-passphrase"
DEV_ROOT_PASSPHRASE = b"test-root-passphrase"
DEV_SITE_ID = "dev"
# development and test sites only: scrypt at 16 MiB instead of 128 MiB keeps a site fixture fast
DEV_CA_KEY_COST = ScryptCost(n=2**14)


def kind_for(device_id: str) -> DeviceKind:
    """`kiosk-001` -> kiosk, `station-01` -> station, `bridge-...` -> bridge, anything else -> sim."""
    prefix = device_id.split("-", 1)[0]
    try:
        return DeviceKind(prefix)
    except ValueError:
        return DeviceKind.SIM


def make_dev_site(path: Path | str, device_ids: Iterable[str] = (), *, hub_ids: Iterable[str] = ("hub",),
                  broker_host: str = "127.0.0.1", broker_port: int = 8883,
                  passphrase: bytes = DEV_PASSPHRASE, root_passphrase: bytes = DEV_ROOT_PASSPHRASE) -> Site:
    """Initialise a site at `path` and enrol `device_ids` (bundles in <site>/bundles/<id>/)."""
    site = Site.init(path, passphrase, DEV_SITE_ID, root_passphrase=root_passphrase, broker_host=broker_host,
                     broker_port=broker_port, hub_ids=hub_ids, ca_key_cost=DEV_CA_KEY_COST)
    for device_id in device_ids:
        site.enroll(device_id, kind_for(device_id))
    return site
