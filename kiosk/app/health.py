"""Device probes between patients: each device's harmless self-test; the PIN pad also counts as
faulty when it is locked (too many failed key-loading authentications: it will not make PIN blocks
for a key it could not load). A fault disables only the flows that need that device."""

from __future__ import annotations

import logging
from collections.abc import Callable

from kiosk.errors import KioskDeviceError
from kiosk.flows.devices import DEVICE_NAMES, DeviceHealth, Devices

log = logging.getLogger(__name__)


def probe(devices: Devices) -> dict[str, str | None]:
    """Device -> fault reason (None when fine), for the devices that are installed."""
    results: dict[str, str | None] = {}
    for name in DEVICE_NAMES:
        device = getattr(devices, name)
        test: Callable[[], object] | None = getattr(device, "self_test", None)
        if device is None or test is None:
            continue
        try:
            if name == "pinpad" and device.status().locked:
                results[name] = "PIN pad locked"
                continue
            test()
            results[name] = None
        except KioskDeviceError as exc:
            results[name] = exc.message
        except Exception as exc:  # a driver bug must not stop the kiosk, nor hide the other devices
            log.exception("probe of %s crashed", name)
            results[name] = f"unexpected {type(exc).__name__}"
    return results


def apply(health: DeviceHealth, results: dict[str, str | None]) -> None:
    for name, reason in results.items():
        if reason is None:
            health.clear(name)
        else:
            health.fault(name, reason)
