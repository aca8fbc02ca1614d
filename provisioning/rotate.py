"""Envelope-key rotation (`mch-provision rotate-keys`) with no record lost in flight.

The device gets new link keys for both directions; the registry entry (and every hub view)
keeps the replaced keys as each direction's `previous` until the grace window ends, so the
hub still opens envelopes the device sealed before it switched (in the broker's queue, in a
hub batch, resent from the outbox) and the device still opens acks sealed before the hub
reloaded. After the window only the new keys open.

The new ``link-keys.json`` (0600, with the previous keys and the window) goes to the device's
bundle directory or a stick; the device switches with `DeviceLink.rotate_keys` (or at its
next start). The outbox keeps records, not sealed envelopes, so nothing in it is re-keyed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from mch_link import registry
from mch_link.keys import KEYS_FILE, LinkKeys
from mch_link.privatefile import PRIVATE_FILE_MODE, write_atomic
from mch_link.registry import DeviceStatus
from provisioning import pki, views
from provisioning.errors import EnrollmentError
from provisioning.site import Site

DEFAULT_GRACE = timedelta(days=7)  # a device offline longer resends under the new keys anyway


def rotate_keys(site: Site, device_id: str, out_dir: Path, grace: timedelta = DEFAULT_GRACE) -> LinkKeys:
    """New link keys for `device_id` into the registry, the hub views and `out_dir/link-keys.json`."""
    entry = site.device(device_id)
    if entry.status is not DeviceStatus.ACTIVE:
        raise EnrollmentError(f"{device_id} is {entry.status.value}; only an active device gets new keys")
    if grace <= timedelta(0):
        raise EnrollmentError("the grace window must be positive (records in flight need it)")
    until_ms = int((pki.now_utc() + grace).timestamp() * 1000)
    keys = entry.keys.rotated(until_ms)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(out_dir / KEYS_FILE, keys.to_json().encode(), PRIVATE_FILE_MODE)  # the device's copy first
    except OSError as exc:
        raise EnrollmentError(f"cannot write {out_dir / KEYS_FILE}: {exc.strerror}") from None
    updated = replace(entry, keys=keys)
    registry.write_entry(site.path, updated)
    views.write_entry(site.path, site.info.hub_ids, updated)
    return keys
