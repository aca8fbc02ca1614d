"""Signed updates on the unix port: every bad case ends on a bootable, verified image.

Manifests are made by provisioning.firmware (the technicians' side, CPython); installing,
booting and rolling back run under MicroPython, one process per reset.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from provisioning import firmware as fwsign
from tests.firmware.conftest import run_micropython

BOARD = "esp32"
KEY_ID = "fw-test"


class Device:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.state = tmp / "state"
        self.state.mkdir()
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.pub = fwsign.public_sec1(self.key)
        self.n = 0

    def release(self, version: str, image: bytes, key=None, board: str = BOARD) -> tuple[Path, Path]:
        self.n += 1
        img = self.tmp / f"img{self.n}.bin"
        man = self.tmp / f"man{self.n}.json"
        img.write_bytes(image)
        man.write_text(json.dumps(fwsign.make_manifest(image, version, board, key or self.key, KEY_ID)))
        return img, man

    def run(self, *args: str) -> dict:
        proc = run_micropython(["update_cli.py", args[0], str(self.state), *args[1:]], timeout=60)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        assert lines, f"no result: rc={proc.returncode} {proc.stdout} {proc.stderr}"
        return json.loads(lines[-1])

    def install(self, img: Path, man: Path, *extra: str) -> dict:
        return self.run("install", str(man), str(img), self.pub.hex(), *extra)


def _image(tag: bytes, size: int = 20000) -> bytes:
    return (tag * (size // len(tag) + 1))[:size]


@pytest.fixture
def device(tmp_path: Path) -> Device:
    d = Device(tmp_path)
    img, man = d.release("1.0.0", _image(b"factory-1.0.0 "))
    assert d.run("provision", str(img), str(man))["version"] == "1.0.0"
    return d


def _on_old(d: Device) -> None:
    state = d.run("boot")
    assert state == {"running": 0, "version": "1.0.0", "valid": True, "pending_verify": False}


@pytest.mark.integration
def test_good_update_boots_and_confirms(device: Device) -> None:
    img, man = device.release("1.1.0", _image(b"release-1.1.0 "))
    assert device.install(img, man) == {"installed": 1}
    assert device.run("boot") == {"running": 1, "version": "1.1.0", "valid": True, "pending_verify": True}
    assert device.run("confirm")["pending_verify"] is False
    assert device.run("boot") == {"running": 1, "version": "1.1.0", "valid": True, "pending_verify": False}


@pytest.mark.integration
def test_tampered_image_refused(device: Device) -> None:
    img, man = device.release("1.1.0", _image(b"release-1.1.0 "))
    data = bytearray(img.read_bytes())
    data[1234] ^= 0x01
    img.write_bytes(bytes(data))
    assert device.install(img, man) == {"refused": "hash-mismatch"}
    _on_old(device)


@pytest.mark.integration
def test_tampered_manifest_refused(device: Device) -> None:
    img, man = device.release("1.1.0", _image(b"release-1.1.0 "))
    m = json.loads(man.read_text())
    m["version"] = "9.9.9"
    man.write_text(json.dumps(m))
    assert device.install(img, man) == {"refused": "bad-signature"}
    _on_old(device)


@pytest.mark.integration
def test_wrong_key_refused(device: Device) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    img, man = device.release("1.1.0", _image(b"release-1.1.0 "), key=other)
    assert device.install(img, man) == {"refused": "bad-signature"}
    _on_old(device)


@pytest.mark.integration
def test_unsigned_and_foreign_refused(device: Device) -> None:
    img, man = device.release("1.1.0", _image(b"release-1.1.0 "))
    m = json.loads(man.read_text())
    del m["signature"]
    man.write_text(json.dumps(m))
    assert device.install(img, man) == {"refused": "malformed"}
    img2, man2 = device.release("1.2.0", _image(b"release-1.2.0 "), board="esp32s3")
    assert device.install(img2, man2) == {"refused": "wrong-board"}
    _on_old(device)


@pytest.mark.integration
def test_downgrade_and_same_version_refused(device: Device) -> None:
    img, man = device.release("1.1.0", _image(b"release-1.1.0 "))
    assert device.install(img, man) == {"installed": 1}
    device.run("boot")
    device.run("confirm")
    old_img, old_man = device.release("1.0.5", _image(b"release-1.0.5 "))
    assert device.install(old_img, old_man) == {"refused": "downgrade"}
    same_img, same_man = device.release("1.1.0", _image(b"other-1.1.0 "))
    assert device.install(same_img, same_man) == {"refused": "downgrade"}
    assert device.run("boot") == {"running": 1, "version": "1.1.0", "valid": True, "pending_verify": False}


@pytest.mark.integration
def test_old_slot_forced_to_boot_still_refuses_older_releases(device: Device) -> None:
    """Anti-rollback was relative to the running slot only: with 1.1.0 confirmed and the device
    forced back onto its 1.0.0 slot, a signed 1.0.5 (say, with a known hole) was accepted."""
    img, man = device.release("1.1.0", _image(b"release-1.1.0 "))
    assert device.install(img, man) == {"installed": 1}
    device.run("boot")
    device.run("confirm")
    assert device.run("force-boot", "0")["version"] == "1.0.0"
    old_img, old_man = device.release("1.0.5", _image(b"release-1.0.5 "))
    assert device.install(old_img, old_man) == {"refused": "downgrade"}
    same_img, same_man = device.release("1.1.0", _image(b"again-1.1.0 "))
    assert device.install(same_img, same_man) == {"refused": "downgrade"}
    new_img, new_man = device.release("1.2.0", _image(b"release-1.2.0 "))
    assert device.install(new_img, new_man) == {"installed": 1}


@pytest.mark.integration
def test_power_cut_mid_install(device: Device) -> None:
    img, man = device.release("1.1.0", _image(b"release-1.1.0 "))
    proc = run_micropython(["update_cli.py", "install", str(device.state), str(man), str(img), device.pub.hex(),
                            "9000"], timeout=60)
    assert "installed" not in proc.stdout and "power cut" in proc.stdout + proc.stderr
    _on_old(device)
    assert device.install(img, man) == {"installed": 1}  # the retry after the reset works
    assert device.run("boot")["version"] == "1.1.0"


@pytest.mark.integration
def test_unhealthy_image_rolls_back(device: Device) -> None:
    img, man = device.release("1.1.0", _image(b"release-1.1.0 "))
    assert device.install(img, man) == {"installed": 1}
    assert device.run("boot")["pending_verify"] is True  # runs once, never confirms (crash, no network...)
    _on_old(device)  # the next reset goes back to the confirmed image
    _on_old(device)


@pytest.mark.integration
def test_corrupted_slot_is_never_booted(device: Device) -> None:
    img, man = device.release("1.1.0", _image(b"release-1.1.0 "))
    assert device.install(img, man) == {"installed": 1}
    slot = device.state / "slots" / "slot1.bin"
    data = bytearray(slot.read_bytes())
    data[5] ^= 0xFF
    slot.write_bytes(bytes(data))  # flash corruption after install, before the reset
    _on_old(device)
