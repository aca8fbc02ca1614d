"""The PIN-pad key ceremony: components to custodians, KCV slips (PDF), sealed hub copy, and the
load on the EPP simulator through the kiosk's maintenance flow with the KCVs read off the slips."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import time
from functools import reduce
from pathlib import Path

import pytest
from reportlab.pdfbase import pdfmetrics

from kiosk.epp import crypto as epp_crypto
from kiosk.epp import simulator as epp_sim
from kiosk.epp.driver import PinPad, tdes_responder
from kiosk.flows.maintenance import KeyCeremony
from kiosk.serial_transport import open_port
from provisioning.cakey import ScryptCost
from provisioning.ceremony import (
    Algorithm,
    CeremonyError,
    CeremonyRecord,
    Custodian,
    kcv,
    open_master_key,
    run_ceremony,
)
from provisioning.cli_ceremony import CLEAR, HUB_KEY_ENV
from provisioning.devsite import make_dev_site
from provisioning.errors import PassphraseError
from provisioning.journal import Journal
from provisioning.slips import FONT, write_slip
from tests.provisioning.test_cli import CLI, EXIT_ERROR, EXIT_OK, TIMEOUT_S, run

FAST = ScryptCost(n=2**14)
HUB_PASS = b"hub pinpad key passphrase"
CUSTODIANS = ["保管员甲", "保管员乙", "保管员丙"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "provisioning"
EPP_ALGORITHM = {Algorithm.TDES: epp_crypto.Algorithm.TDES, Algorithm.SM4: epp_crypto.Algorithm.SM4}


def test_kcv_matches_the_reference_vectors() -> None:
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    assert kcv(Algorithm.TDES, key) == "08D7B4"  # /work/shared/reference/kiosk-devices.md
    assert kcv(Algorithm.SM4, key) == "2677F4"


def _ceremony(tmp_path: Path, algorithm: Algorithm, names: list[str], slot: int = 3
              ) -> tuple[CeremonyRecord, dict[int, str]]:
    shown: dict[int, str] = {}

    def show(custodian: Custodian, component_hex: str) -> None:
        assert custodian.number not in shown  # each custodian is shown their component once
        shown[custodian.number] = component_hex

    record = run_ceremony(names, slot, algorithm, show=show, write_slip=write_slip, slips_dir=tmp_path / "slips",
                          hub_copy=tmp_path / "hub" / f"pinpad-slot-{slot:02d}.json", hub_passphrase=HUB_PASS,
                          cost=FAST)
    return record, shown


def _slip_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=30).stdout


@pytest.mark.parametrize("algorithm", [Algorithm.TDES, Algorithm.SM4])
def test_ceremony_loads_on_the_pin_pad_with_the_slips_kcvs(tmp_path: Path, algorithm: Algorithm) -> None:
    (tmp_path / "hub").mkdir()
    record, shown = _ceremony(tmp_path, algorithm, CUSTODIANS)
    assert sorted(shown) == [1, 2, 3] and len(set(shown.values())) == 3

    # no component anywhere on disk, in any case, nor in the slips' text
    texts = {p: _slip_text(p) for p in record.slips}
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for comp in shown.values():
                assert comp.encode() not in data.upper() and bytes.fromhex(comp) not in data, path
    for comp in shown.values():
        assert all(comp not in re.sub(r"\s", "", t).upper() for t in texts.values())

    # each custodian's slip: their own KCV and the combined one
    slip_kcvs = {}
    for custodian, slip in zip(record.custodians, record.slips, strict=True):
        text = texts[slip]
        assert custodian.name in text and "合成密钥校验值" in text and "Combined KCV" in text
        found = re.search(r"Component KCV\s+([0-9A-F]{6})", text)
        combined = re.search(r"Combined KCV\s+([0-9A-F]{6})", text)
        assert found and combined
        slip_kcvs[custodian.number] = found.group(1)
        assert combined.group(1) == record.combined_kcv
        face = pdfmetrics.getFont(FONT).face
        missing = {ch for ch in text if not ch.isspace() and ord(ch) not in face.charToGlyph}
        assert not missing, f"characters without a glyph on the slip: {missing}"

    # at the kiosk, in maintenance mode: components typed in, KCVs off the slips
    sim = epp_sim.start_on_pty()
    port = open_port(sim.port_url, device="epp")
    try:
        pad = PinPad(port)
        ceremony = KeyCeremony(slot=record.slot, algorithm=EPP_ALGORITHM[algorithm], custodians=3)
        for number in (1, 2, 3):
            assert ceremony.add_component(shown[number], slip_kcvs[number]) == slip_kcvs[number]
        loaded = ceremony.load(pad, tdes_responder(epp_sim.DEMO_AUTH_KEY), record.combined_kcv)
        assert loaded == record.combined_kcv
        assert pad.status().master_keys == 1
    finally:
        port.close()
        sim.stop()

    # the hub's copy opens to the same key, the XOR of the components
    key, header = open_master_key(record.hub_copy.read_bytes(), str(record.hub_copy), HUB_PASS)
    expected = reduce(lambda a, b: bytes(x ^ y for x, y in zip(a, b, strict=True)),
                      (bytes.fromhex(c) for c in shown.values()))
    assert key == expected
    assert epp_crypto.kcv(EPP_ALGORITHM[algorithm], key, 3).hex().upper() == record.combined_kcv
    assert header["slot"] == record.slot and (record.hub_copy.stat().st_mode & 0o777) == 0o600


def test_hub_copy_refuses_a_wrong_passphrase_and_an_altered_header(tmp_path: Path) -> None:
    (tmp_path / "hub").mkdir()
    record, _ = _ceremony(tmp_path, Algorithm.TDES, CUSTODIANS[:2], slot=5)
    data = record.hub_copy.read_bytes()
    with pytest.raises(PassphraseError, match="wrong hub key passphrase"):
        open_master_key(data, "copy", b"not the passphrase")
    doc = json.loads(data)
    doc["header"]["slot"] = 6
    with pytest.raises(PassphraseError, match="altered"):
        open_master_key(json.dumps(doc).encode(), "copy", HUB_PASS)
    with pytest.raises(CeremonyError, match="not a PIN-pad master key file"):
        open_master_key(b"{}", "copy", HUB_PASS)


def test_ceremony_rules(tmp_path: Path) -> None:
    (tmp_path / "hub").mkdir()
    with pytest.raises(CeremonyError, match="2 or 3 custodians"):
        _ceremony(tmp_path, Algorithm.TDES, CUSTODIANS[:1])
    with pytest.raises(CeremonyError, match="distinct"):
        _ceremony(tmp_path, Algorithm.TDES, ["保管员甲", "保管员甲"])
    with pytest.raises(CeremonyError, match="slot"):
        _ceremony(tmp_path, Algorithm.TDES, CUSTODIANS[:2], slot=0x20)
    _ceremony(tmp_path, Algorithm.TDES, CUSTODIANS[:2], slot=7)
    with pytest.raises(CeremonyError, match="never replaces"):
        _ceremony(tmp_path, Algorithm.TDES, CUSTODIANS[:2], slot=7)


def test_slip_screenshot(tmp_path: Path) -> None:
    (tmp_path / "hub").mkdir()
    record, _ = _ceremony(tmp_path, Algorithm.TDES, CUSTODIANS[:2])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    out = SCREENSHOTS / "ceremony-slip"
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-singlefile", str(record.slips[0]), str(out)], check=True,
                   timeout=60)
    assert out.with_suffix(".png").stat().st_size > 5000


def _read_until(fd: int, marker: bytes, seen: bytearray) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while marker not in seen:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {marker!r} in {bytes(seen)!r}")
        if select.select([fd], [], [], 0.1)[0]:
            seen.extend(os.read(fd, 4096))


def test_cli_shows_each_component_once_on_a_terminal_and_journals_only_kcvs(tmp_path: Path) -> None:
    site = make_dev_site(tmp_path / "site").path
    refused = run("ceremony", "--site", site, "--custodian", "保管员甲", "--custodian", "保管员乙", "--slot", "2")
    assert refused.returncode == EXIT_ERROR and "run it on a terminal" in refused.stderr
    controller, terminal = pty.openpty()
    env = {**os.environ, HUB_KEY_ENV: HUB_PASS.decode(), "MCH_TECHNICIAN": "tech-zhao"}
    proc = subprocess.Popen([CLI, "ceremony", "--site", str(site), "--custodian", "保管员甲", "--custodian", "保管员乙",
                             "--slot", "2", "--algorithm", "sm4"], stdin=terminal, stdout=terminal,
                            stderr=subprocess.PIPE, env=env, start_new_session=True)
    os.close(terminal)
    seen = bytearray()
    components = []
    try:
        for _ in range(2):
            _read_until(controller, "Enter 显示".encode(), seen)
            assert b"component:" not in seen[seen.rfind(b"Custodian"):]  # hidden until asked for
            os.write(controller, b"\n")
            _read_until(controller, "Enter 清屏".encode(), seen)
            match = re.search(rb"component: ((?:[0-9A-F]{4} ?){8})", bytes(seen[seen.rfind(b"Custodian"):]))
            assert match
            components.append(match.group(1).replace(b" ", b"").decode())
            del seen[:]
            os.write(controller, b"\n")
            _read_until(controller, CLEAR.encode(), seen)  # the screen and scrollback are wiped
        assert proc.wait(timeout=TIMEOUT_S) == EXIT_OK, proc.stderr.read() if proc.stderr else ""
    finally:
        os.close(controller)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT_S)
    hub_copy = site / "deploy" / "hub" / "pinpad" / "master-slot-02.json"
    key, header = open_master_key(hub_copy.read_bytes(), str(hub_copy), HUB_PASS)
    assert key == bytes(a ^ b for a, b in zip(*(bytes.fromhex(c) for c in components), strict=True))
    entry = Journal(site).verify()[-1]
    assert (entry.action, entry.technician, entry.outcome) == ("ceremony", "tech-zhao", "ok")
    assert entry.details["combined_kcv"] == header["combined_kcv"] == kcv(Algorithm.SM4, key)
    for path in site.rglob("*"):
        if path.is_file():
            assert not any(c.encode() in path.read_bytes().upper() for c in components), path
