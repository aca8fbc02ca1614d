"""Self-test of the touchscreen: the configured evdev node exists, is readable, reports multitouch."""

from __future__ import annotations

from pathlib import Path

import evdev
from evdev import ecodes

from kiosk.errors import DeviceUnavailableError
from kiosk.touch.kivy_input import DEVICE, PROVIDER_PROBESYSFS, TouchConfig, kivy_input_config

MULTITOUCH_AXES = frozenset({ecodes.ABS_MT_POSITION_X, ecodes.ABS_MT_POSITION_Y})
SINGLE_TOUCH_AXES = frozenset({ecodes.ABS_X, ecodes.ABS_Y})


def _axes(device: evdev.InputDevice) -> set[int]:
    caps = device.capabilities(absinfo=False)
    return set(caps.get(ecodes.EV_ABS, []))


def describe_device(path: str) -> str:
    """Name and axes of one evdev node; DeviceUnavailableError when it cannot serve as a touchscreen."""
    if not Path(path).exists():
        raise DeviceUnavailableError(DEVICE, "input device does not exist", port=path)
    try:
        device = evdev.InputDevice(path)
    except OSError as exc:
        raise DeviceUnavailableError(DEVICE, f"cannot open input device: {exc.strerror} "
                                             "(is the kiosk user in group 'input'?)", port=path) from exc
    try:
        axes = _axes(device)
        name = device.name
    finally:
        device.close()
    if MULTITOUCH_AXES <= axes:
        return f"{name!r} multitouch"
    if SINGLE_TOUCH_AXES <= axes:
        return f"{name!r} single touch"
    raise DeviceUnavailableError(DEVICE, f"{name!r} reports no touch axes", port=path)


def self_test(config: TouchConfig) -> str:
    line = kivy_input_config(config).entries[0][2]
    if config.provider == PROVIDER_PROBESYSFS:
        found = []
        for path in evdev.list_devices():
            try:
                found.append(describe_device(path))
            except DeviceUnavailableError:
                continue
        if not found:
            raise DeviceUnavailableError(DEVICE, "probesysfs: no touch device under /dev/input")
        return f"{', '.join(found)}; kivy input {line}"
    return f"{describe_device(config.device)}; kivy input {line}"
