"""What the flows need of each device (the drivers satisfy these), and which flows a fault stops.

A device fault disables only the flows that need that device; `DeviceHealth.snapshot()` is what
the kiosk reports to the hub as its device state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kiosk.bankcard.card_data import BankCardData
from kiosk.epp.framing import KeyEvent
from kiosk.epp.protocol import MacAlgorithm, PinFormat
from kiosk.flows.messages import DEVICE_NAMES
from kiosk.idcard.driver import CardRead
from kiosk.receipt.commands import PrinterStatus
from kiosk.receipt.layout import Receipt


class IdCardSource(Protocol):
    def read_card(self, *, newest_address: bool = False) -> CardRead | None: ...

    def find_card(self) -> bool: ...


class PinPadDevice(Protocol):
    digits_entered: int

    def start_pin_entry(self, min_digits: int = 4, max_digits: int = 6, timeout_s: int = 30) -> None: ...

    def cancel_pin_entry(self) -> None: ...

    def next_key_event(self, timeout_s: float) -> KeyEvent | None: ...

    def pin_block(self, key_slot: int, pan: str, fmt: PinFormat = PinFormat.ISO0) -> bytes: ...

    def mac(self, key_slot: int, data: bytes, algorithm: MacAlgorithm = MacAlgorithm.X919) -> bytes: ...


class BankCardSource(Protocol):
    def read_card(self, timeout_s: float = 30.0) -> BankCardData: ...

    def card_present(self) -> bool: ...


class MotorOutcomeLike(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def result_name(self) -> str: ...


class SlotStatus(Protocol):
    @property
    def card_inside(self) -> bool: ...

    @property
    def card_at_mouth(self) -> bool: ...


class CardMotor(Protocol):
    def heartbeat(self) -> SlotStatus: ...

    def eject_card(self) -> MotorOutcomeLike: ...

    def capture_card(self) -> MotorOutcomeLike: ...

    def buzz(self, on_ms: int, off_ms: int = 0, count: int = 1) -> None: ...


class ReceiptSink(Protocol):
    def status(self) -> PrinterStatus: ...

    def print_receipt(self, receipt: Receipt) -> PrinterStatus: ...


class A4Sink(Protocol):
    def print_pdf(self, pdf: Path, title: str, timeout_s: float | None = None) -> object: ...


@dataclass(frozen=True)
class Devices:
    idcard: IdCardSource | None = None
    pinpad: PinPadDevice | None = None
    bankcard: BankCardSource | None = None
    motor: CardMotor | None = None
    receipt: ReceiptSink | None = None
    a4: A4Sink | None = None


# flow -> devices it cannot run without
FLOW_NEEDS: Mapping[str, frozenset[str]] = {
    "identify_card": frozenset({"idcard"}),
    "identify_number": frozenset(),
    "register": frozenset(),
    "sign": frozenset({"bankcard", "pinpad"}),
    "unbind": frozenset({"bankcard", "pinpad"}),  # her PIN for the bound card
    "book": frozenset(),
    "pay": frozenset({"bankcard", "pinpad", "receipt"}),
    "print_receipt": frozenset({"receipt"}),
    "print_report": frozenset({"a4"}),
}


CRITICAL = frozenset({"pinpad", "bankcard", "receipt"})  # payment stops without them


@dataclass(frozen=True)
class Fault:
    """A device fault: `code` as the link's state/1 carries it (the codes of docs/kiosk-app.md, which
    the hub's dashboard names), `reason` in words for the technician (no personal data)."""

    code: str
    reason: str


class DeviceHealth:
    """Faults by device (thread-safe); `on_change` is called with the snapshot after each change."""

    def __init__(self, devices: Devices, on_change: Callable[[dict[str, str]], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, str] = {name: "not installed" for name in DEVICE_NAMES
                                        if getattr(devices, name) is None}
        self._codes: dict[str, str] = {}
        self._since_ms: dict[str, int] = {}
        self._on_change = on_change

    def fault(self, device: str, reason: str, code: str | None = None) -> None:
        """`code`: the specific fault code (paper-out, pinpad-tamper, ...); default `device-<name>`."""
        self._set(device, reason, code)

    def clear(self, device: str) -> None:
        self._set(device, None)

    def _set(self, device: str, reason: str | None, code: str | None = None) -> None:
        with self._lock:
            before = (self._faults.get(device), self._codes.get(device))
            if reason is None:
                self._faults.pop(device, None)
                self._codes.pop(device, None)
                self._since_ms.pop(device, None)
            else:
                self._faults[device] = reason
                if code is None:
                    self._codes.pop(device, None)
                else:
                    self._codes[device] = code
                self._since_ms.setdefault(device, int(time.time() * 1000))
            changed = before != (reason, code if reason is not None else None)
            snapshot = dict(self._faults)
        if changed and self._on_change is not None:
            self._on_change(snapshot)

    def ok(self, device: str) -> bool:
        with self._lock:
            return device not in self._faults

    def available(self, flow: str) -> bool:
        with self._lock:
            return not FLOW_NEEDS[flow] & self._faults.keys()

    def snapshot(self) -> dict[str, str]:
        """Device -> fault reason (no personal data in here)."""
        with self._lock:
            return dict(self._faults)

    def link_faults(self) -> list[dict[str, Any]]:
        """The faults as the link's state/1 `faults` (birth and every heartbeat carry them to the hub)."""
        with self._lock:
            return [{"code": self._codes.get(name, f"device-{name}"),
                     "severity": "critical" if name in CRITICAL else "warning",
                     **({"since_ms": self._since_ms[name]} if name in self._since_ms else {}),
                     "detail": reason[:200]} for name, reason in sorted(self._faults.items())]
