from __future__ import annotations

import pytest

from kiosk.errors import ConfigError
from kiosk.touch import TouchConfig, kivy_input_config
from kiosk.touch.device import describe_device, self_test
from kiosk.touch.kivy_input import MOUSE_YIELDING_TO_TOUCH


def test_mtdev_line_with_rotation_and_inversion() -> None:
    cfg = TouchConfig(provider="mtdev", device="/dev/input/event3", rotation=90, invert_x=True)
    assert kivy_input_config(cfg).entries == (
        ("input", "touchscreen", "mtdev,/dev/input/event3,invert_x=1,rotation=90"),
        ("input", "mouse", MOUSE_YIELDING_TO_TOUCH),
    )


def test_hidinput_without_options_and_without_mouse() -> None:
    cfg = TouchConfig(provider="hidinput", device="/dev/input/event5", keep_mouse=False)
    assert kivy_input_config(cfg).entries == (("input", "touchscreen", "hidinput,/dev/input/event5"),)


def test_probesysfs_passes_options_as_params() -> None:
    cfg = TouchConfig(provider="probesysfs", device="", rotation=180, invert_y=True, keep_mouse=False)
    assert kivy_input_config(cfg).entries == (
        ("input", "touchscreen", "probesysfs,provider=mtdev,param=invert_y=1,param=rotation=180"),)


@pytest.mark.parametrize("kwargs", [{"provider": "tuio"}, {"rotation": 45}, {"device": "/tmp/event0"},
                                    {"device": "/dev/input/event0,invert_x=1"}])
def test_bad_configuration_is_refused(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        TouchConfig(**kwargs)


def test_self_test_names_a_missing_device() -> None:
    with pytest.raises(ConfigError.__mro__[1], match="does not exist"):
        self_test(TouchConfig(device="/dev/input/event999"))
    with pytest.raises(ConfigError.__mro__[1]):
        describe_device("/dev/input/does-not-exist")
