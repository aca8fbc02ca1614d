"""Technician gate, key ceremony on the real PIN-pad simulator, log export without personal data."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kiosk.app import demo_keys
from kiosk.epp import crypto as c
from kiosk.epp import simulator as epp_sim
from kiosk.epp.driver import PinPad, tdes_responder
from kiosk.errors import SecurityError
from kiosk.flows.maintenance import KeyCeremony, TechnicianGate, export_logs, hash_credential
from kiosk.flows.redact import RedactingFilter, redact
from kiosk.serial_transport import open_port
from tests.kiosk.flows.conftest import card_data

pytestmark = pytest.mark.integration  # drivers on their pty simulators



class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_gate_accepts_only_the_right_pin_and_locks_after_five_failures() -> None:
    clock = Clock()
    stored = hash_credential("tech01", "246810")
    assert "246810" not in stored
    gate = TechnicianGate({"tech01": stored}, clock=clock)
    assert gate.check("tech01", "246810") and not gate.check("tech01", "000000") and not gate.check("nobody", "1")
    for _ in range(3):
        gate.check("tech01", "999999")
    assert gate.locked and not gate.check("tech01", "246810")
    clock.now += 301
    assert gate.check("tech01", "246810")


def test_ceremony_checks_each_component_and_loads_the_combined_key() -> None:
    sim = epp_sim.start_on_pty()
    port = open_port(sim.port_url, device="epp")
    try:
        pad = PinPad(port)
        ceremony = KeyCeremony(slot=3, algorithm=c.Algorithm.TDES, custodians=2)
        first, second = demo_keys.components()
        with pytest.raises(ValueError, match="KCV does not match"):
            ceremony.add_component(first.value.hex(), "000000")
        assert ceremony.add_component(first.value.hex(), first.kcv.hex()) == first.kcv.hex().upper()
        with pytest.raises(ValueError, match="still to enter"):
            ceremony.load(pad, tdes_responder(epp_sim.DEMO_AUTH_KEY), "000000")
        ceremony.add_component(second.value.hex(), second.kcv.hex())
        combined = c.kcv(c.Algorithm.TDES, demo_keys.master_key(), 3).hex()
        assert ceremony.load(pad, tdes_responder(epp_sim.DEMO_AUTH_KEY), combined) == combined.upper()
        assert pad.status().master_keys == 1 and ceremony.entered == 0  # components forgotten
        assert first.value.hex() not in repr(ceremony) and first.value.hex() not in repr(sim.device)
        again = KeyCeremony(slot=4, algorithm=c.Algorithm.TDES, custodians=2)
        again.add_component(first.value.hex(), first.kcv.hex())
        again.add_component(second.value.hex(), second.kcv.hex())
        with pytest.raises(SecurityError, match="combined KCV"):
            again.load(pad, tdes_responder(epp_sim.DEMO_AUTH_KEY), "ABCDEF")
        with pytest.raises(ValueError):
            KeyCeremony(slot=1, algorithm=c.Algorithm.TDES, custodians=1)
    finally:
        port.close()
        sim.stop()


def test_redaction_masks_valid_id_numbers_and_pans_only() -> None:
    pan = card_data().pan
    id_number = card_data().cardholder_id_number or ""
    text = redact(f"card {pan} id {id_number} order 12345678901234")
    assert pan not in text and id_number not in text and "12345678901234" in text
    assert pan[-4:] in text and id_number[:6] in text


def test_log_filter_and_export(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pan = card_data().pan
    log_file = tmp_path / "kiosk.log"
    handler = logging.FileHandler(log_file)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("kiosk.test.redact")
    logger.addHandler(handler)
    try:
        logger.warning("driver said %s", pan)
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert pan not in log_file.read_text()
    raw = tmp_path / "raw.log"
    raw.write_text(f"line with {pan}\n")
    out = tmp_path / "export.log"
    assert export_logs([log_file, raw], out) == 2
    assert pan not in out.read_text() and pan[-4:] in out.read_text()
