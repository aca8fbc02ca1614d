"""Device probes between patients: each device's harmless self-test, turned into fault codes the
hub's dashboard names (docs/kiosk-app.md): a PIN pad that is locked (too many failed key-loading
authentications) or has lost its keys (its tamper response erases them) cannot make PIN blocks; a
receipt printer says why it cannot print; a reader that does not answer is gone. A fault disables
only the flows that need that device."""

from __future__ import annotations

import logging
from typing import Any

from kiosk.errors import KioskDeviceError
from kiosk.flows.devices import DEVICE_NAMES, DeviceHealth, Devices, Fault
from kiosk.receipt.commands import PaperLevel

log = logging.getLogger(__name__)

GONE = {"idcard": "idcard-reader", "bankcard": "card-reader-gone", "pinpad": "pinpad-gone",
        "receipt": "printer-offline", "a4": "a4-printer", "motor": "ioboard"}


def _receipt_fault(status: Any) -> Fault | None:
    if status.can_print:
        return None
    code = ("paper-out" if status.paper is PaperLevel.OUT else "cover-open" if status.cover_open
            else "printer-offline" if not status.online else "printer-fault")
    return Fault(code, f"receipt printer {status.describe()}")


def _pinpad_fault(pad: Any) -> Fault | None:
    status = pad.status()
    if status.locked:
        return Fault("pinpad-lockout", "PIN pad locked")
    if status.master_keys == 0:
        return Fault("pinpad-tamper", "PIN pad has no keys (tamper response, or never loaded): key ceremony needed")
    pad.self_test()
    return None


def _motor_fault(board: Any, idle: bool) -> Fault | None:
    board.self_test()
    if idle and board.heartbeat().card_inside:  # nobody's visit holds it: a card the transport could not return
        return Fault("card-stuck", "a card is inside the card transport between patients: staff must retrieve it")
    return None


def probe_one(name: str, device: Any, *, idle: bool = False) -> Fault | None:
    """One device's fault, or None when it is fine (`idle`: no visit is under way)."""
    try:
        if name == "pinpad":
            return _pinpad_fault(device)
        if name == "receipt":
            return _receipt_fault(device.status())
        if name == "motor":
            return _motor_fault(device, idle)
        device.self_test()
        return None
    except KioskDeviceError as exc:
        return Fault(GONE.get(name, f"device-{name}"), exc.message)
    except Exception as exc:  # a driver bug must not stop the kiosk, nor hide the other devices
        log.exception("probe of %s crashed", name)
        return Fault(f"device-{name}", f"unexpected {type(exc).__name__}")


def probe(devices: Devices, *, idle: bool = False) -> dict[str, Fault | None]:
    """Device -> fault (None when fine), for the devices that are installed and can test themselves;
    `idle`: between patients, when a card inside the transport is nobody's."""
    return {name: probe_one(name, getattr(devices, name), idle=idle) for name in DEVICE_NAMES
            if getattr(getattr(devices, name), "self_test", None) is not None}


def apply(health: DeviceHealth, results: dict[str, Fault | None]) -> None:
    for name, fault in results.items():
        if fault is None:
            health.clear(name)
        else:
            health.fault(name, fault.reason, fault.code)
