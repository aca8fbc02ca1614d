"""The registry view: revocations and enrolments are noticed without a restart."""

from __future__ import annotations

from central_hub.directory import RELOAD_INTERVAL_S, Directory
from mch_link.registry import DeviceStatus, RegistryEntry
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
    d = Directory(lambda: dict(registry), clock=clock)
    registry["sim-001"] = entry("sim-001", DeviceStatus.REVOKED)
    assert d.get("sim-001").active  # type: ignore[union-attr]
    clock.t += RELOAD_INTERVAL_S
    assert not d.get("sim-001").active  # type: ignore[union-attr]


def test_unknown_device_triggers_a_prompt_reload() -> None:
    registry: dict[str, RegistryEntry] = {}
    clock = Clock()
    d = Directory(lambda: dict(registry), clock=clock)
    registry["sim-002"] = entry("sim-002")
    clock.t += 0.6
    assert d.get("sim-002") is not None


def test_a_broken_registry_keeps_the_last_good_one() -> None:
    from mch_link.registry import RegistryError

    state = {"fail": False}

    def load() -> dict[str, RegistryEntry]:
        if state["fail"]:
            raise RegistryError("half-written file")
        return {"sim-001": entry("sim-001")}

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
