"""The hub data key: 0600, refused when readable by others, values bound to their row."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from central_hub.datakey import KEY_FILE, DataCipher, DataKeyError, load, load_or_create
from central_hub.errors import HubConfigError


def test_created_0600_and_reloaded(tmp_path: Path) -> None:
    first = load_or_create(tmp_path / "state")
    path = tmp_path / "state" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_or_create(tmp_path / "state")
    kid, nonce, ct = first.seal(b"aad", b"synthetic")
    assert again.open(kid, nonce, ct, b"aad") == b"synthetic"


def test_readable_key_file_is_refused(tmp_path: Path) -> None:
    load_or_create(tmp_path)
    os.chmod(tmp_path / KEY_FILE, 0o644)
    with pytest.raises(HubConfigError, match="chmod 600"):
        load(tmp_path / KEY_FILE)


def test_malformed_key_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    path.write_text("{not json")
    os.chmod(path, 0o600)
    with pytest.raises(HubConfigError, match="malformed"):
        load(path)


def test_value_moved_to_another_row_does_not_open() -> None:
    c = DataCipher.generate()
    kid, nonce, ct = c.seal(b"rec/sim-001/1", b"synthetic")
    with pytest.raises(DataKeyError):
        c.open(kid, nonce, ct, b"rec/sim-001/2")
    with pytest.raises(DataKeyError):
        DataCipher.generate().open(kid, nonce, ct, b"rec/sim-001/1")


def test_nonces_differ() -> None:
    c = DataCipher.generate()
    assert len({c.seal(b"a", b"x")[1] for _ in range(1000)}) == 1000


def test_key_material_is_not_printed() -> None:
    c = DataCipher.generate()
    assert c.keys[1].hex() not in repr(c)
