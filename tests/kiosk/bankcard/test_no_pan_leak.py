"""No PAN, track-2 data or cardholder ID number in logs or on disk after a full bank-card run."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from kiosk.bankcard.card_profiles import PROFILES
from kiosk.bankcard.virtual_card import _bcd
from tests.kiosk.bankcard.conftest import wait_removed

pytestmark = pytest.mark.integration
MAX_SCAN_BYTES = 20_000_000


def secrets_of(profile: str) -> list[bytes]:
    p = PROFILES[profile]
    track2_digits = p.pan + "D" + p.expiry.strftime("%y%m")
    return [p.pan.encode(), _bcd(p.pan), p.pan[6:-4].encode(), track2_digits.encode(),
            _bcd(track2_digits),
            p.id_number.encode()]


def files_written_since(root: Path, since: float) -> list[bytes]:
    """Every file under the session's temporary directories written during this run (tests run one at a
    time, so these are this run's files; other tests' files may hold unrelated digit runs)."""
    return [f.read_bytes() for f in root.rglob("*")
            if f.is_file() and f.stat().st_mtime >= since and f.stat().st_size < MAX_SCAN_BYTES]


def test_full_run_leaves_no_account_data_in_logs_or_files(reader, insert_card, caplog, tmp_path: Path,
                                                          tmp_path_factory, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    started = time.time() - 1  # file systems with coarse timestamps
    caplog.set_level(logging.DEBUG)
    logging.getLogger("kiosk").setLevel(logging.DEBUG)
    log_file = tmp_path / "kiosk.log"
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    try:
        for profile in ("pse", "t0", "aid-fallback"):
            link = insert_card(profile)
            data = reader.read_card(timeout_s=10)
            logging.getLogger("kiosk.test").info("read %s %r", data, data)
            link.remove()
            wait_removed(reader)
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    assert caplog.records, "the run should have logged something to scan"
    texts = [r.getMessage().encode() for r in caplog.records] + [caplog.text.encode()]
    files = files_written_since(tmp_path_factory.getbasetemp(), started)
    assert log_file.read_bytes() in files
    assert log_file.stat().st_size > 0
    for secret in secrets_of("pse"):
        for blob in texts + files:
            assert secret not in blob
    assert any(b"629999*********2348" in t for t in texts)  # the masked form is what gets logged
