"""The registry view: revocations and enrolments are noticed without a restart."""

from __future__ import annotations

from pathlib import Path

from central_hub.directory import RELOAD_INTERVAL_S, Directory
from mch_link.registry import DeviceStatus, RegistryEntry, RegistryScan, entry_path, write_entry
from provisioning.site import Site
from tests.central_hub.helpers import entry


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_revocation_is_seen_after_the_reload_interval() -> None:
    registry: dict[str, RegistryEntry] = {"sim-001": entry("sim-001")}
    clock = Clock()
    d = Directory.from_entries(registry, clock=clock)
    registry["sim-001"] = entry("sim-001", DeviceStatus.REVOKED)
    assert d.get("sim-001").active  # type: ignore[union-attr]
    clock.t += RELOAD_INTERVAL_S
    assert not d.get("sim-001").active  # type: ignore[union-attr]


def test_unknown_device_triggers_a_prompt_reload() -> None:
    registry: dict[str, RegistryEntry] = {}
    clock = Clock()
    d = Directory.from_entries(registry, clock=clock)
    registry["sim-002"] = entry("sim-002")
    clock.t += 0.6
    assert d.get("sim-002") is not None


def test_an_unreadable_registry_directory_keeps_the_last_good_view() -> None:
    from mch_link.registry import RegistryError

    state = {"fail": False}

    def load() -> RegistryScan:
        if state["fail"]:
            raise RegistryError("registry: cannot list it")
        return RegistryScan({"sim-001": entry("sim-001")}, {}, frozenset())

    clock = Clock()
    d = Directory(load, clock=clock)
    state["fail"] = True
    clock.t += RELOAD_INTERVAL_S
    assert d.get("sim-001") is not None and d.load_errors == 1


def test_from_site_follows_provisioning(site: Site, enroll_device) -> None:
    enroll_device("sim-001")
    d = Directory.from_site(site.path)
    assert d.get("sim-001").active  # type: ignore[union-attr]
    site.revoke("sim-001")
    d.reload()
    assert not d.get("sim-001").active  # type: ignore[union-attr]


def test_a_device_whose_file_breaks_is_refused_not_served_from_the_old_view(tmp_path: Path) -> None:
    (tmp_path / "registry").mkdir()
    write_entry(tmp_path, entry("sim-001"))
    d = Directory.from_site(tmp_path)
    assert d.get("sim-001") is not None and d.problems == {}
    entry_path(tmp_path, "sim-001").write_text("not json at all")
    d.reload()
    assert d.get("sim-001") is None and d.unreadable("sim-001")
    assert list(d.problems) == ["sim-001.json"] and d.problems_version == 1
