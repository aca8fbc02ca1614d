"""services.json: optional, private (it holds the MAC key), and refused with a clear error when wrong."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from central_hub.errors import HubConfigError
from central_hub.services.settings import load_settings


def _write(state: Path, doc: object, mode: int = 0o600) -> None:
    state.mkdir(exist_ok=True)
    path = state / "services.json"
    path.write_text(json.dumps(doc))
    os.chmod(path, mode)


def test_absent_means_no_acquirer_and_the_synthetic_timetable(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert settings.gateway is None and settings.timetable is None


def test_acquirer_and_timetable(tmp_path: Path) -> None:
    (tmp_path / "tt.json").write_text(json.dumps({"sessions": []}))
    _write(tmp_path / "s", {"acquirer": {"host": "127.0.0.1", "port": 9, "mac_key": "00" * 16},
                            "timetable": str(tmp_path / "tt.json")})
    settings = load_settings(tmp_path / "s")
    assert settings.gateway is not None and settings.gateway.port == 9 and settings.timetable == {"sessions": []}


@pytest.mark.parametrize(("doc", "mode", "words"), [
    ({"acquirer": {"host": "h", "port": 1, "mac_key": "00" * 16}}, 0o644, "mode 600"),
    ({"acquirer": {"host": "h", "port": 1, "mac_key": "00"}}, 0o600, "32 hex"),
    ({"acquirer": {"host": "h"}}, 0o600, "KeyError"),
])
def test_wrong_files_are_refused_clearly(tmp_path: Path, doc: object, mode: int, words: str) -> None:
    _write(tmp_path, doc, mode)
    with pytest.raises(HubConfigError, match=words):
        load_settings(tmp_path)
