"""`mch-provision firmware`: keygen (sealed key), sign, verify, trust, publish, offer, status, journaled.

The manifests are checked by the device's own verifier (firmware/mchfw/update.py on CPython), so the
technicians' side and the device agree on the signed bytes.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mch_link.sitefiles import hub_view
from provisioning import firmware
from provisioning.board import bundle_files
from provisioning.devsite import make_dev_site
from provisioning.journal import JOURNAL_DIR, JOURNAL_FILE, read_entries
from tests.provisioning.test_cli import CLI, EXIT_ERROR, EXIT_OK, TIMEOUT_S

FIRMWARE_SRC = Path(__file__).resolve().parents[2] / "firmware"
if str(FIRMWARE_SRC) not in sys.path:
    sys.path.insert(0, str(FIRMWARE_SRC))

from mchfw import update  # noqa: E402 - the device's verifier, from firmware/

KEY_PASS = "firmware signing passphrase 1"


def fw(*args: str | Path, passphrase: str | None = KEY_PASS) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCH_")}
    if passphrase is not None:
        env["MCH_FW_PASSPHRASE"] = passphrase
    env["MCH_TECHNICIAN"] = "tech-zhao"
    return subprocess.run([CLI, "firmware", *map(str, args)], capture_output=True, text=True, timeout=TIMEOUT_S,
                          stdin=subprocess.DEVNULL, env=env, check=False)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return make_dev_site(tmp_path / "site", ["bridge-ctg-001", "bridge-ctg-002"]).path


def _release(site: Path, tmp: Path, version: str, data: bytes) -> tuple[Path, Path]:
    image, manifest = tmp / f"{version}.bin", tmp / f"{version}.json"
    image.write_bytes(data)
    done = fw("sign", "--site", site, image, "--version", version, "--key-id", "fw-2026", "--out", manifest)
    assert done.returncode == EXIT_OK, done.stderr
    return image, manifest


def test_keygen_sign_verify_and_the_device_accepts_the_manifest(site: Path, tmp_path: Path) -> None:
    made = fw("keygen", "--site", site, "fw-2026")
    assert made.returncode == EXIT_OK, made.stderr
    key_file = firmware.key_path(site, "fw-2026")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" not in key_file.read_bytes() and json.loads(key_file.read_text())["kdf"] == "scrypt"
    assert fw("keygen", "--site", site, "fw-2026").returncode == EXIT_ERROR  # never overwritten

    image, manifest = _release(site, tmp_path, "1.1.0", b"release 1.1.0 " * 500)
    m = json.loads(manifest.read_text())
    trusted = firmware.trusted_keys(site)
    update.verify_manifest(update.parse_manifest(manifest.read_bytes()), trusted)  # the device's check passes
    assert fw("verify", "--site", site, image, manifest).returncode == EXIT_OK

    tampered = tmp_path / "tampered.bin"
    tampered.write_bytes(image.read_bytes()[:-1] + b"!")
    bad = fw("verify", "--site", site, tampered, manifest)
    assert bad.returncode == EXIT_ERROR and "SHA-256" in bad.stderr
    m["version"] = "9.9.9"
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(m))
    bad = fw("verify", "--site", site, image, forged)
    assert bad.returncode == EXIT_ERROR and "bad signature" in bad.stderr
    with pytest.raises(update.UpdateError):
        update.verify_manifest(update.parse_manifest(forged.read_bytes()), trusted)

    wrong = fw("sign", "--site", site, image, "--version", "1.2.0", "--key-id", "fw-2026", "--out",
               tmp_path / "x.json", passphrase="not the passphrase")
    assert wrong.returncode == EXIT_ERROR and "wrong passphrase" in wrong.stderr
    assert fw("sign", "--site", site, image, "--version", "1.2", "--key-id", "fw-2026", "--out",
              tmp_path / "y.json").returncode == EXIT_ERROR


def test_trust_publish_offer_and_status(site: Path, tmp_path: Path) -> None:
    assert fw("keygen", "--site", site, "fw-2026").returncode == EXIT_OK
    bundle = site / "bundles" / "bridge-ctg-001"
    assert fw("trust", "--site", site, bundle).returncode == EXIT_OK
    keys = json.loads((bundle / firmware.BUNDLE_KEYS_FILE).read_text())
    assert keys["format"] == "mchfw-keys/1" and set(keys["keys"]) == {"fw-2026"}
    assert firmware.BUNDLE_KEYS_FILE in bundle_files(bundle)  # mch-provision board copies it onto the board

    image, manifest = _release(site, tmp_path, "1.1.0", b"release 1.1.0 " * 500)
    unpublished = fw("offer", "--site", site, "1.1.0", "bridge-ctg-001")
    assert unpublished.returncode == EXIT_ERROR and "not published" in unpublished.stderr
    assert fw("publish", "--site", site, image, manifest).returncode == EXIT_OK
    where = hub_view(site, "hub") / "firmware" / "releases" / "esp32-1.1.0"
    assert (where / "image.bin").read_bytes() == image.read_bytes()
    assert not list(hub_view(site, "hub").rglob("*.key.json"))  # the signing key stays on the laptop

    other = tmp_path / "other.bin"
    other.write_bytes(b"something else")
    again = fw("publish", "--site", site, other, manifest)
    assert again.returncode == EXIT_ERROR

    unknown = fw("offer", "--site", site, "1.1.0", "bridge-ctg-009")
    assert unknown.returncode == EXIT_ERROR and "not enrolled" in unknown.stderr
    queued = fw("offer", "--site", site, "1.1.0", "bridge-ctg-001", "bridge-ctg-002")
    assert queued.returncode == EXIT_OK, queued.stderr
    [offer_file] = (hub_view(site, "hub") / "firmware" / "offers").glob("*.json")
    doc = json.loads(offer_file.read_text())
    assert doc["devices"] == ["bridge-ctg-001", "bridge-ctg-002"] and doc["technician"] == "tech-zhao"

    missing = fw("status", "--site", site)
    assert missing.returncode == EXIT_OK and "no status yet" in missing.stdout
    (hub_view(site, "hub") / "firmware" / "status.json").write_text(json.dumps({
        "format": "mchfw-status/1", "at": "2026-12-03T10:00:00Z", "releases": ["esp32-1.1.0"],
        "devices": [{"device": "bridge-ctg-001", "release": "esp32-1.1.0", "state": "done",
                     "result": "installed 1.1.0", "firmware": "mchfw/1.1.0"},
                    {"device": "bridge-ctg-002", "release": "esp32-1.1.0", "state": "failed",
                     "result": "rolled back", "firmware": "mchfw/1.0.0"}]}))
    shown = fw("status", "--site", site, "--json")
    assert shown.returncode == EXIT_OK
    [hub] = json.loads(shown.stdout)
    assert [(d["device"], d["state"]) for d in hub["devices"]] == [("bridge-ctg-001", "done"),
                                                                    ("bridge-ctg-002", "failed")]
    table = fw("status", "--site", site)
    assert "rolled back" in table.stdout and "installed 1.1.0" in table.stdout

    journal = site / JOURNAL_DIR / JOURNAL_FILE
    actions = [(e.action, e.outcome.split(":")[0]) for e in read_entries(journal)]
    assert ("firmware", "ok") in actions and ("firmware", "error") in actions
    assert KEY_PASS not in journal.read_text()


def test_esp_image_secure_version_must_be_the_major(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    header = bytes([firmware.ESP_IMAGE_MAGIC]) + bytes(firmware.ESP_APP_DESC_AT - 1)

    def esp(secure: int) -> bytes:
        return header + firmware.ESP_APP_DESC_MAGIC.to_bytes(4, "little") + secure.to_bytes(4, "little") + bytes(64)

    assert firmware.make_manifest(esp(2), "2.1.0", "esp32", key, "fw-2026", esp_image=True)["version"] == "2.1.0"
    with pytest.raises(firmware.FirmwareError, match="secure_version is 1"):
        firmware.make_manifest(esp(1), "2.1.0", "esp32", key, "fw-2026", esp_image=True)
    with pytest.raises(firmware.FirmwareError, match="not an ESP-IDF"):
        firmware.make_manifest(b"plain", "2.1.0", "esp32", key, "fw-2026", esp_image=True)
