from __future__ import annotations

import json
from pathlib import Path

import pytest

from fetal_monitor_station.config import load_config, parse_config
from fetal_monitor_station.errors import ConfigError

GOOD_TOML = """
station_id = "station-01"
archive = "data/archive.sqlite3"
[thresholds]
bradycardia_bpm = 110
tachycardia_bpm = 160.5
[[beds]]
id = "bed-01"
url = "/dev/ttyUSB0"
[[beds]]
id = "bed-02"
url = "socket://127.0.0.1:7001"
baudrate = 19200
options = { mode = "transmit_receive", hr_mode_roles = { X = ["fetal", "maternal"] } }
"""


def test_toml_loads_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    f = tmp_path / "station.toml"
    f.write_text(GOOD_TOML)
    cfg = load_config(f)
    assert cfg.station_id == "station-01" and cfg.archive == tmp_path.resolve() / "data/archive.sqlite3"
    assert [b.bed_id for b in cfg.beds] == ["bed-01", "bed-02"]
    assert cfg.beds[1].baudrate == 19200 and cfg.beds[1].options["mode"] == "transmit_receive"
    assert cfg.thresholds == {"bradycardia_bpm": 110.0, "tachycardia_bpm": 160.5}
    assert cfg.link is None and cfg.analysis is True


def test_json_loads(tmp_path: Path) -> None:
    f = tmp_path / "station.json"
    f.write_text(json.dumps({"station_id": "station-02", "archive": "/tmp/x.sqlite3",
                             "link": {"bundle": "bundle", "broker": "127.0.0.1:18883"}, "beds": [{"id": "b1", "url": "loop://"}]}))
    cfg = load_config(f)
    assert cfg.link is not None and cfg.link.bundle == tmp_path.resolve() / "bundle"
    assert cfg.link.broker == ("127.0.0.1", 18883)


BASE = {"station_id": "station-01", "archive": "a.sqlite3", "beds": [{"id": "bed-01", "url": "/dev/ttyS0"}]}


@pytest.mark.parametrize("patch, message", [
    ({"station_id": "Station 1"}, "station_id"),
    ({"station_id": "hub-1"}, "station_id"),
    ({"beds": []}, "1..256"),
    ({"beds": [{"id": "bed-01", "url": "a"}, {"id": "bed-01", "url": "b"}]}, "twice"),
    ({"beds": [{"id": "bed-01"}]}, "missing required key 'url'"),
    ({"beds": [{"id": "bed-01", "url": "a", "baudrate": 9601}]}, "baudrate"),
    ({"beds": [{"id": "bed-01", "url": "a", "protocol": "nope"}]}, "unknown monitor protocol"),
    ({"beds": [{"id": "bed-01", "url": "a", "options": {"mode": "x"}}]}, "mode"),
    ({"beds": [{"id": "bed-01", "url": "a", "colour": "red"}]}, "unknown key"),
    ({"thresholds": {"bradycardia_bpm": "low"}}, "thresholds"),
    ({"thresholds": {"bradycardia_bpm": True}}, "boolean"),
    ({"archive_synchronous": "OFF"}, "archive_synchronous"),
    ({"clock_speed": 0}, "clock_speed"),
    ({"extra": 1}, "unknown key"),
    ({"link": {"bundle": "b", "broker": "nohost"}}, "host:port"),
    ({"link": {"bundle": "b", "broker": "h:99999"}}, "host:port"),
])
def test_invalid_configs_name_the_key(patch: dict[str, object], message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({**BASE, **patch}, tmp_path)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("station_id = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    other = tmp_path / "x.yaml"
    other.write_text("a: 1")
    with pytest.raises(ConfigError, match=".toml or .json"):
        load_config(other)
