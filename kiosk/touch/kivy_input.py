"""Kiosk touchscreen: from our touch configuration to Kivy's ``[input]`` section, and applying it.

Kivy builds its input providers from ``[input]`` when the first window starts
(``kivy.base._runTouchApp_prepare``): one option per provider, ``provider_id,args``. The kiosk
replaces the whole section (Kivy's Linux default auto-probes every device with ``probesysfs``)
with one touchscreen line and, under X, a mouse provider that yields to touch so a touch is not
counted twice.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from kiosk.errors import ConfigError

DEVICE = "touch"
SECTION = "input"
PROVIDER_MTDEV = "mtdev"
PROVIDER_HIDINPUT = "hidinput"
PROVIDER_PROBESYSFS = "probesysfs"
PROVIDERS = (PROVIDER_MTDEV, PROVIDER_HIDINPUT, PROVIDER_PROBESYSFS)
ROTATIONS = (0, 90, 180, 270)
TOUCH_KEY = "touchscreen"
MOUSE_KEY = "mouse"
MOUSE_YIELDING_TO_TOUCH = "mouse,disable_on_activity,disable_multitouch"
DEVICE_PREFIX = "/dev/input/"
WINDOW_MODULE = "kivy.core.window"


@dataclass(frozen=True)
class TouchConfig:
    provider: str = PROVIDER_MTDEV
    device: str = "/dev/input/event0"
    rotation: int = 0
    invert_x: bool = False
    invert_y: bool = False
    keep_mouse: bool = True  # a mouse provider that yields to touch (service laptop, X desktop)

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise ConfigError(DEVICE, f"provider {self.provider!r} is not one of {', '.join(PROVIDERS)}")
        if self.rotation not in ROTATIONS:
            raise ConfigError(DEVICE, f"rotation {self.rotation} is not one of {ROTATIONS}")
        if self.provider != PROVIDER_PROBESYSFS and (
                not self.device.startswith(DEVICE_PREFIX) or "," in self.device or "=" in self.device):
            raise ConfigError(DEVICE, f"device {self.device!r} is not an evdev node under {DEVICE_PREFIX}")


@dataclass(frozen=True)
class KivyInputConfig:
    """What to write into Kivy's configuration: ``entries`` replace the whole ``[input]`` section."""

    entries: tuple[tuple[str, str, str], ...]


def _options(config: TouchConfig) -> list[str]:
    options = []
    if config.invert_x:
        options.append("invert_x=1")
    if config.invert_y:
        options.append("invert_y=1")
    if config.rotation:
        options.append(f"rotation={config.rotation}")
    return options


def kivy_input_config(config: TouchConfig) -> KivyInputConfig:
    """Pure: the ``[input]`` entries for ``config``."""
    if config.provider == PROVIDER_PROBESYSFS:
        # probesysfs finds multitouch devices itself and hands each to mtdev with these params
        line = ",".join([PROVIDER_PROBESYSFS, f"provider={PROVIDER_MTDEV}",
                         *(f"param={opt}" for opt in _options(config))])
    else:
        line = ",".join([config.provider, config.device, *_options(config)])
    entries = [(SECTION, TOUCH_KEY, line)]
    if config.keep_mouse:
        entries.append((SECTION, MOUSE_KEY, MOUSE_YIELDING_TO_TOUCH))
    return KivyInputConfig(tuple(entries))


def apply_kivy_input(config: TouchConfig) -> KivyInputConfig:
    """Write the entries into ``kivy.config.Config``; must run before the Kivy window starts."""
    if WINDOW_MODULE in sys.modules:
        raise ConfigError(DEVICE, "Kivy's window already exists: configure touch input before importing "
                                  "kivy.core.window or building the app")
    from kivy.config import Config

    wanted = kivy_input_config(config)
    if not Config.has_section(SECTION):
        Config.add_section(SECTION)
    for key, _value in list(Config.items(SECTION)):
        Config.remove_option(SECTION, key)
    for section, key, value in wanted.entries:
        Config.set(section, key, value)
    return wanted
