"""mch_link.registry: the format provisioning writes and the hub reads."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mch_link.keys import LinkKeys
from mch_link.registry import (
    DeviceKind,
    DeviceStatus,
    RegistryEntry,
    RegistryError,
    entry_path,
    hub_identity,
    load_entry,
    load_registry,
    load_site_info,
    write_entry,
)
from provisioning.site import Site

EXPIRY = datetime(2027, 1, 31, 12, 0, tzinfo=UTC)


def make_entry(device_id: str = "kiosk-001") -> RegistryEntry:
    return RegistryEntry(device_id, DeviceKind.KIOSK, DeviceStatus.ACTIVE, "1a2b3c", EXPIRY,
                         LinkKeys.generate(device_id))


def test_round_trip_and_mode(tmp_path: Path) -> None:
    (tmp_path / "registry").mkdir()
    entry = make_entry()
    path = write_entry(tmp_path, entry)
    assert path == entry_path(tmp_path, "kiosk-001") == tmp_path / "registry" / "kiosk-001.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_entry(tmp_path, "kiosk-001") == entry
    assert load_registry(tmp_path) == {"kiosk-001": entry}
    assert entry.active


def test_registry_written_by_provisioning_reads_back(site: Site, enroll_device) -> None:
    enroll_device("kiosk-001", "kiosk")
    enroll_device("station-01", "station")
    site.revoke("kiosk-001")
    reg = load_registry(site.path)
    assert sorted(reg) == ["kiosk-001", "station-01"]
    assert not reg["kiosk-001"].active and reg["station-01"].active
    assert reg["station-01"].keys == LinkKeys.read(site.default_bundle_dir("station-01") / "link-keys.json")


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d.update(format="mch-registry/9"), "unknown format"),
    (lambda d: d.pop("cert_serial"), "malformed registry entry"),
    (lambda d: d.update(status="paused"), "malformed registry entry"),
    (lambda d: d.update(not_after="2027-01-31T12:00:00"), "timezone-aware"),
    (lambda d: d.update(cert_serial="XYZ"), "not lowercase hex"),
    (lambda d: d["keys"].update(device_id="kiosk-002"), "link keys belong to 'kiosk-002'"),
])
def test_malformed_entries_name_the_file(tmp_path: Path, mutate, message: str) -> None:
    (tmp_path / "registry").mkdir()
    path = write_entry(tmp_path, make_entry())
    d = json.loads(path.read_text())
    mutate(d)
    path.write_text(json.dumps(d))
    with pytest.raises(RegistryError, match=message) as err:
        load_registry(tmp_path)
    assert str(err.value).startswith(str(path))


def test_file_name_must_match_device(tmp_path: Path) -> None:
    (tmp_path / "registry").mkdir()
    path = write_entry(tmp_path, make_entry("kiosk-001"))
    path.rename(tmp_path / "registry" / "kiosk-002.json")
    with pytest.raises(RegistryError, match="holds device 'kiosk-001', expected 'kiosk-002'"):
        load_registry(tmp_path)


def test_not_a_site(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="is not a directory"):
        load_registry(tmp_path)
    with pytest.raises(RegistryError, match="cannot read"):
        load_site_info(tmp_path)


def test_hub_identity_paths(site: Site) -> None:
    ident = hub_identity(site.path, "hub")
    assert ident.cert.is_file() and ident.key.is_file() and ident.ca == site.chain_path
    with pytest.raises(RegistryError, match="invalid hub identity"):
        hub_identity(site.path, "hubby")
