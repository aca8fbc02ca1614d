"""Which pyserial URLs a kiosk configuration may name: production files never get `spy://`
(it would log PIN-pad key components and PIN blocks) nor `loop://`; simulation adds `loop://`."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import config_from_mapping, load_config
from kiosk.errors import ConfigError
from kiosk.serial_transport import check_port_url


@pytest.mark.parametrize("url", ["spy:///dev/ttyUSB1", "SPY:///dev/ttyUSB1", "loop://", "alt:///dev/ttyS0?class=x",
                                 "hwgrep://0403", "ttyUSB0", "../../etc/shadow"])
def test_production_refuses(url: str) -> None:
    with pytest.raises(ConfigError, match="not allowed|under /dev/"):
        check_port_url(url, device="idcard")


def test_production_accepts_device_paths_and_serial_servers() -> None:
    for url in ("/dev/ttyUSB0", "/dev/serial/by-id/usb-FTDI-if00", "socket://192.0.2.7:4001", "rfc2217://192.0.2.7:4002"):
        assert check_port_url(url, device="idcard") == url


def test_the_pin_pad_only_on_a_local_port() -> None:
    assert check_port_url("/dev/ttyUSB1", device="epp") == "/dev/ttyUSB1"
    for url in ("socket://192.0.2.7:4001", "rfc2217://192.0.2.7:4002", "spy:///dev/ttyUSB1"):
        with pytest.raises(ConfigError, match="not allowed"):
            check_port_url(url, device="epp")


def test_simulation_adds_loop_only() -> None:
    assert check_port_url("loop://", device="epp", simulation=True) == "loop://"
    with pytest.raises(ConfigError, match="not allowed"):
        check_port_url("spy://loop://", device="epp", simulation=True)


def test_a_production_file_with_spy_is_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text('[epp]\nport = "spy:///dev/ttyUSB1?file=/tmp/epp.log"\n')
    with pytest.raises(ConfigError, match="scheme spy:// is not allowed"):
        load_config(path)
    path.write_text('[receipt]\nkind = "serial"\nurl = "loop://"\n')
    with pytest.raises(ConfigError, match="scheme loop:// is not allowed"):
        load_config(path)
    sim = config_from_mapping({"epp": {"port": "loop://"}}, simulation=True)
    assert sim.epp is not None and sim.epp.port == "loop://"
