from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.config import load_config
from kiosk.errors import ConfigError

GOOD_TOML = """
[idcard]
port = "/dev/ttyUSB0"
[ioboard]
port = "socket://127.0.0.1:7000"
baudrate = 115200
[receipt]
kind = "network"
host = "192.0.2.10"
[bankcard]
reader = "Virtual PCD 00 00"
card_wait_s = 20
[a4printer]
queue = "report"
[touch]
provider = "mtdev"
device = "/dev/input/event3"
rotation = 270
invert_y = true
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_toml_and_json_load_to_the_same_config(tmp_path: Path) -> None:
    import tomllib

    toml_cfg = load_config(write(tmp_path, "kiosk.toml", GOOD_TOML))
    json_cfg = load_config(write(tmp_path, "kiosk.json", json.dumps(tomllib.loads(GOOD_TOML))))
    assert toml_cfg == json_cfg
    assert toml_cfg.devices() == ["idcard", "ioboard", "receipt", "bankcard", "a4printer", "touch"]
    assert toml_cfg.idcard.baudrate == 115200 and toml_cfg.bankcard.card_wait_s == 20.0
    assert toml_cfg.touch.rotation == 270 and toml_cfg.touch.invert_y
    assert toml_cfg.a4printer.server == "localhost:631"


@pytest.mark.parametrize(("text", "message"), [
    ("[idcard]\nprot = '/dev/x'\n", "unknown setting(s) prot"),
    ("[scanner]\nport = 'x'\n", "unknown section(s) scanner"),
    ("[idcard]\nport = 5\n", "idcard].port must be str, got int"),
    ("[idcard]\nbaudrate = 9600\n", "missing setting(s) port"),
    ("[a4printer]\nqueue = ''\n", "a4printer.queue must not be empty"),
    ("[a4printer]\nqueue = 'q'\njob_timeout_s = -1\n", "out of range"),
    ("[touch]\nrotation = 45\n", "rotation 45 is not one of"),
    ("[touch]\ninvert_x = 'yes'\n", "invert_x must be bool"),
    ("[receipt]\nkind = 'serial'\n", "needs url"),
    ("[receipt]\nkind = 'parallel'\n", "is not one of serial"),
    ("[bankcard]\nvpcd_port = 70000\n", "vpcd_port is out of range"),
    ("idcard = 3\n", "must be a table"),
    ("[idcard\n", "is not valid TOML"),
])
def test_bad_configuration_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "kiosk.toml", text))
    assert message in str(info.value)


def test_unreadable_or_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="use a .toml or .json"):
        load_config(write(tmp_path, "kiosk.yaml", "a: 1"))
    with pytest.raises(ConfigError, match="top level must be a table"):
        load_config(write(tmp_path, "kiosk.json", "[1, 2]"))
