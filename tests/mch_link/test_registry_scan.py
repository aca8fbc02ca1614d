"""The registry read file by file; identifiers validated as whole strings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mch_link import schemas
from mch_link.errors import SchemaError, TopicError
from mch_link.keys import LinkKeys
from mch_link.registry import (
    DeviceKind,
    DeviceStatus,
    RegistryEntry,
    RegistryError,
    entry_path,
    load_registry,
    scan_registry,
    validate_hub_id,
    write_entry,
)
from mch_link.topics import Topic, validate_device_id


def _entry(device_id: str) -> RegistryEntry:
    return RegistryEntry(device_id, DeviceKind.SIM, DeviceStatus.ACTIVE, "0a", datetime(2030, 1, 1, tzinfo=UTC),
                         LinkKeys.generate(device_id))


def test_each_bad_file_costs_only_itself(tmp_path: Path) -> None:
    (tmp_path / "registry").mkdir()
    for d in ("sim-001", "sim-002", "sim-003"):
        write_entry(tmp_path, _entry(d))
    entry_path(tmp_path, "sim-002").write_text("{\"format\": \"mch-registry/1\", \"device_")
    (tmp_path / "registry" / "._sim-001.json").write_bytes(b"\x00\x05\x16\x07")
    (tmp_path / "registry" / "hub.json").write_text("{}")
    scan = scan_registry(tmp_path)
    assert sorted(scan.entries) == ["sim-001", "sim-003"]
    assert scan.unreadable == {"sim-002"}
    assert sorted(scan.problems) == ["._sim-001.json", "hub.json", "sim-002.json"]
    assert "malformed" in scan.problems["sim-002.json"]
    with pytest.raises(RegistryError):  # the strict reader (provisioning) still refuses such a directory
        load_registry(tmp_path)


@pytest.mark.parametrize("bad", ["sim-001\n", "sim-001\r", "\nsim-001", "sim-001 ", "Sim-001", "hub-1", "ab"])
def test_device_ids_are_matched_whole(bad: str) -> None:
    with pytest.raises(TopicError):
        validate_device_id(bad)
    with pytest.raises(TopicError):
        Topic.parse(f"mch/v1/{bad}/rec")


def test_hub_and_schema_ids_are_matched_whole() -> None:
    assert validate_hub_id("hub-2") == "hub-2"
    with pytest.raises(RegistryError):
        validate_hub_id("hub-2\n")
    assert schemas.known("sim/1")
    with pytest.raises(SchemaError):
        schemas.schema_file("sim/1\n")
