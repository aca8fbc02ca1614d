"""The hub's firmware channel over a real store (SQLite and PostgreSQL): offers taken once and audited,
only intact releases offered, pieces stop when the device refuses, status from the device's answers."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from central_hub.audit import AuditLog
from central_hub.commands import Commands, CommandState
from central_hub.errors import HubError
from central_hub.firmware_channel import FIRMWARE_DIR, PIECE_BYTES, FirmwareChannel
from central_hub.store import Store
from mch_link.registry import DeviceStatus
from mch_link.schemas import validate
from tests.central_hub.helpers import NOW_MS, FakeDevice, Rig, entry

IMAGE = bytes(range(256)) * 30  # 7,680 bytes: 4 pieces


class Link:
    """Takes cmd/1 and fw-chunk/1 bodies as the command link would (schema-checked)."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.pieces: list[tuple[str, dict[str, Any]]] = []
        self.down = False
        self.connected = True

    def send(self, device_id: str, body: dict[str, Any]) -> None:
        validate("cmd/1", body)
        self.commands.append((device_id, body))

    def send_chunk(self, device_id: str, body: dict[str, Any]) -> None:
        if self.down:
            raise HubError("broker away")
        validate("fw-chunk/1", body)
        self.pieces.append((device_id, body))


def _publish(channel: Path, version: str, image: bytes = IMAGE) -> dict[str, Any]:
    where = channel / "releases" / f"esp32-{version}"
    where.mkdir(parents=True)
    m = {"format": "mchfw-manifest/1", "version": version, "board": "esp32", "size": len(image),
         "sha256": hashlib.sha256(image).hexdigest(), "key_id": "fw-test", "signature": "00" * 64}
    (where / "image.bin").write_bytes(image)
    (where / "manifest.json").write_text(json.dumps(m))
    return m


def _offer(channel: Path, version: str, devices: list[str], name: str = "1-a.json") -> None:
    (channel / "offers").mkdir(exist_ok=True)
    (channel / "offers" / name).write_text(json.dumps({"format": "mchfw-offer/1", "version": version, "board": "esp32",
                                                       "devices": devices, "technician": "tech-zhao", "at_ms": 1}))


@pytest.fixture
def rig(store: Store) -> Rig:
    return Rig(store, [entry("bridge-ctg-001"), entry("bridge-ctg-002"),
                       entry("bridge-ctg-003", DeviceStatus.REVOKED)])


def _channel(rig: Rig, channel: Path, link: Link) -> FirmwareChannel:
    active = {d for d, e in rig.registry.items() if e.status is DeviceStatus.ACTIVE}
    commands = Commands(rig.store, AuditLog(rig.store), link, lambda d: d in active)
    return FirmwareChannel(channel, rig.store, link, commands)


def test_offer_taken_once_audited_and_streamed_in_order(rig: Rig, tmp_path: Path) -> None:
    link = Link()
    m = _publish(tmp_path, "1.1.0")
    _offer(tmp_path, "1.1.0", ["bridge-ctg-001", "bridge-ctg-003", "bridge-ctg-009"])
    channel = _channel(rig, tmp_path, link)
    [command_id] = channel.take_offers()  # the revoked and the unknown device get no command
    assert link.commands == [("bridge-ctg-001", {"command": "update-offer", "id": command_id,
                                                 "args": {"release": "esp32-1.1.0", "manifest": m,
                                                          "piece_bytes": PIECE_BYTES}})]
    while channel.pump():
        pass
    data = b"".join(base64.b64decode(b["data"]) for _, b in link.pieces)
    assert data == IMAGE and [b["offset"] for _, b in link.pieces] == [0, 2048, 4096, 6144]
    actions = [(e.actor, e.action, e.target) for e in AuditLog(rig.store).entries()]
    assert ("technician:tech-zhao", "firmware-offer", "1-a.json") in actions
    assert ("technician:tech-zhao", "command", "bridge-ctg-001") in actions
    assert sum(a == "firmware-offer-refused" for _, a, _ in actions) == 2
    # a restarted channel (or the same offer file synced again) does not offer it twice
    assert _channel(rig, tmp_path, link).take_offers() == [] and channel.take_offers() == []


def test_a_release_that_does_not_match_its_manifest_is_never_offered(rig: Rig, tmp_path: Path) -> None:
    link = Link()
    _publish(tmp_path, "1.1.0")
    (tmp_path / "releases" / "esp32-1.1.0" / "image.bin").write_bytes(IMAGE[:-10])  # half copied
    _offer(tmp_path, "1.1.0", ["bridge-ctg-001"])
    channel = _channel(rig, tmp_path, link)
    assert channel.take_offers() == [] and link.commands == []
    (tmp_path / "releases" / "esp32-1.1.0" / "image.bin").write_bytes(IMAGE)  # the sync completes
    assert len(channel.take_offers()) == 1


def test_pieces_stop_when_the_device_refuses_and_status_shows_answers(rig: Rig, tmp_path: Path) -> None:
    link = Link()
    _publish(tmp_path, "1.1.0", IMAGE * 4)  # 15 pieces: more than one pump
    _offer(tmp_path, "1.1.0", ["bridge-ctg-001", "bridge-ctg-002"])
    channel = _channel(rig, tmp_path, link)
    first, second = channel.take_offers()
    link.down = True
    assert channel.pump() == 0  # the broker away: nothing lost, tried again
    link.down = False
    channel.pump()
    sent_before = len(link.pieces)
    dev1, dev2 = FakeDevice(rig.registry["bridge-ctg-001"]), FakeDevice(rig.registry["bridge-ctg-002"])
    rig.one(*dev1.state("birth", firmware="mchfw/1.0.0", kind="sim", command_results=[
        {"id": first, "status": "refused", "detail": "downgrade: 1.1.0 is not newer than 1.1.0"}]))
    while channel.pump():
        pass
    to_first = [b for d, b in link.pieces if d == "bridge-ctg-001"]
    assert len(to_first) < 15 and len(to_first) <= sent_before  # stopped once the refusal was in
    assert len([b for d, b in link.pieces if d == "bridge-ctg-002"]) == 15
    rig.one(*dev2.state("birth", firmware="mchfw/1.0.0", kind="sim", faults=[
        {"code": "update-rolled-back", "severity": "warning", "detail": "1.1.0 did not pass its health check"}],
        command_results=[{"id": second, "status": "failed", "detail": "rolled back: 1.1.0 did not pass its health "
                                                                      "check; running 1.0.0"}]), at_ms=NOW_MS + 1)
    status = channel.status()
    by_device = {d["device"]: d for d in status["devices"]}
    assert by_device["bridge-ctg-001"]["state"] == CommandState.REFUSED.value
    assert not by_device["bridge-ctg-001"]["rolled_back"]
    assert by_device["bridge-ctg-002"]["rolled_back"] and by_device["bridge-ctg-002"]["firmware"] == "mchfw/1.0.0"
    assert by_device["bridge-ctg-002"]["device_faults"] == ["update-rolled-back"]
    assert json.loads(channel.write_status().read_text())["devices"] == status["devices"]


def test_offers_wait_while_the_broker_is_away(rig: Rig, tmp_path: Path) -> None:
    """Taken while the command link is not connected, an offer's command failed at once ("not sent")."""
    import threading
    import time

    link = Link()
    link.connected = False
    _publish(tmp_path, "1.1.0")
    _offer(tmp_path, "1.1.0", ["bridge-ctg-001"])
    channel = _channel(rig, tmp_path, link)
    stopping = threading.Event()
    runner = threading.Thread(target=channel.run, args=(stopping,), daemon=True)
    runner.start()
    try:
        time.sleep(1.0)
        assert link.commands == [] and channel.taken == set()
        link.connected = True
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(link.pieces) < 4:
            time.sleep(0.05)
        assert [b["command"] for _, b in link.commands] == ["update-offer"] and len(link.pieces) == 4
        assert (tmp_path / "status.json").exists()
    finally:
        stopping.set()
        runner.join(5)


def test_a_device_sending_a_firmware_piece_upstream_is_quarantined(rig: Rig) -> None:
    """fw-chunk/1 is bound to the cmd topic: on a device's record topic it is never stored."""
    from mch_link.envelope import Record

    dev = FakeDevice(rig.registry["bridge-ctg-001"])
    piece = {"sha256": "ab" * 32, "offset": 0, "data": "AAAA"}
    rig.one(*dev.seal([Record(1, piece, NOW_MS)], schema="fw-chunk/1"))
    assert rig.reasons() == ["wrong-topic-kind"]
    assert rig.store.record_ids("bridge-ctg-001") == []


def test_status_prints_device_strings_without_terminal_controls(rig: Rig, hub_db_url: str, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A device's answer goes to the operator's terminal: an ESC or CSI sequence, or a bidi override,
    in it must come out escaped (the JSON still reads back to the device's exact text)."""
    from central_hub.cli import main

    channel_dir = tmp_path / FIRMWARE_DIR
    _publish(channel_dir, "1.1.0")
    _offer(channel_dir, "1.1.0", ["bridge-ctg-001"])
    (command,) = _channel(rig, channel_dir, Link()).take_offers()
    hostile = "拒绝 \x1b]0;owned\x07 \x9b2J \u202egnp.exe \x7f"
    rig.one(*FakeDevice(rig.registry["bridge-ctg-001"]).state(
        "birth", firmware="mchfw/1.0.0\x9b31m", kind="sim",
        command_results=[{"id": command, "status": "refused", "detail": hostile}]))
    assert main(["firmware", "status", "--site", str(tmp_path), "--db", hub_db_url]) == 0
    out = capsys.readouterr().out
    unsafe = [c for c in out if c != "\n" and (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or 0x202A <= ord(c) <= 0x202E)]
    assert unsafe == []  # before: ESC, BEL, CSI, DEL and U+202E reached the terminal
    (device,) = json.loads(out)["devices"]
    assert device["result"].endswith(hostile) and device["firmware"] == "mchfw/1.0.0\x9b31m"
    assert "拒绝" in out  # Chinese stays readable
