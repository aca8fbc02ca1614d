"""Kiosk device configuration: which port, reader, queue and input node each device uses.

Loaded from TOML or JSON (by file suffix) and validated at load: unknown sections or keys, wrong
types and out-of-range values raise ``ConfigError`` naming the file, the section and the key.
A device is configured when its section is present. Example (TOML)::

    [idcard]
    port = "/dev/ttyUSB0"          # a device path, socket://host:port or rfc2217:// (not for the epp)
    [epp]
    port = "/dev/ttyUSB1"
    [ioboard]
    port = "/dev/ttyACM0"
    [receipt]
    kind = "serial"                # serial | usb | network | capture
    url = "/dev/ttyUSB2"
    [bankcard]
    reader = "Virtual PCD 00 00"   # PC/SC reader name (or its prefix)
    [a4printer]
    server = "localhost:631"
    queue = "report"
    [touch]
    provider = "mtdev"
    device = "/dev/input/event3"
    rotation = 90
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

from kiosk.errors import ConfigError, KioskDeviceError
from kiosk.serial_transport import check_port_url
from kiosk.touch.kivy_input import TouchConfig

DEVICE = "config"
SERIAL_DEFAULT_BAUD = 115200
RECEIPT_DEFAULT_BAUD = 9600
RECEIPT_KINDS = ("serial", "usb", "network", "capture")
MAX_TIMEOUT_S = 3600.0
MAX_PORT = 65535


@dataclass(frozen=True)
class SerialDeviceConfig:
    port: str
    baudrate: int = SERIAL_DEFAULT_BAUD


@dataclass(frozen=True)
class ReceiptConfig:
    kind: str = "serial"
    url: str = ""
    baudrate: int = RECEIPT_DEFAULT_BAUD
    host: str = ""
    port: int = 9100
    usb_vendor: int = 0
    usb_product: int = 0


@dataclass(frozen=True)
class BankCardConfig:
    reader: str = ""  # empty: the first PC/SC reader
    card_wait_s: float = 30.0
    call_timeout_s: float = 5.0
    vpcd_port: int = 35963  # simulator only: where the virtual card plugs into pcscd's vpcd driver


@dataclass(frozen=True)
class A4PrinterConfig:
    queue: str
    server: str = "localhost:631"
    job_timeout_s: float = 120.0


@dataclass(frozen=True)
class KioskConfig:
    idcard: SerialDeviceConfig | None = None
    epp: SerialDeviceConfig | None = None
    ioboard: SerialDeviceConfig | None = None
    receipt: ReceiptConfig | None = None
    bankcard: BankCardConfig | None = None
    a4printer: A4PrinterConfig | None = None
    touch: TouchConfig | None = None

    def devices(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]


SECTIONS: dict[str, type] = {
    "idcard": SerialDeviceConfig, "epp": SerialDeviceConfig, "ioboard": SerialDeviceConfig,
    "receipt": ReceiptConfig, "bankcard": BankCardConfig, "a4printer": A4PrinterConfig, "touch": TouchConfig,
}


TYPE_NAMES: dict[str, type] = {"int": int, "str": str, "bool": bool, "float": float}
MAX_INT_SETTING = 10_000_000


def _check_value(where: str, name: str, value: Any, annotation: Any) -> Any:
    expected = TYPE_NAMES.get(annotation, str) if isinstance(annotation, str) else annotation
    if expected is float and isinstance(value, int | float) and not isinstance(value, bool):
        if not 0 < value <= MAX_TIMEOUT_S:
            raise ConfigError(DEVICE, f"{where}.{name} = {value} is out of range (0, {MAX_TIMEOUT_S:.0f}]")
        return float(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ConfigError(DEVICE, f"{where}.{name} must be {expected.__name__}, got {type(value).__name__}")
    if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= MAX_INT_SETTING:
        raise ConfigError(DEVICE, f"{where}.{name} = {value} is out of range")
    return value


def _section(where: str, cls: type, raw: Any) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(DEVICE, f"{where} must be a table of settings")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(DEVICE, f"{where}: unknown setting(s) {', '.join(unknown)}; "
                                  f"known: {', '.join(known)}")
    values = {name: _check_value(where, name, value, known[name].type) for name, value in raw.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        missing = [n for n, f in known.items() if n not in values and f.default is MISSING]
        raise ConfigError(DEVICE, f"{where}: missing setting(s) {', '.join(missing) or exc}") from exc
    except KioskDeviceError as exc:
        raise ConfigError(DEVICE, f"{where}: {exc.message}") from exc


def _validate(config: KioskConfig, simulation: bool) -> KioskConfig:
    for name in ("idcard", "epp", "ioboard"):
        dev = getattr(config, name)
        if dev is not None and not dev.port:
            raise ConfigError(DEVICE, f"{name}.port must not be empty")
        if dev is not None:
            check_port_url(dev.port, device=name, simulation=simulation)
    r = config.receipt
    if r is not None:
        if r.kind not in RECEIPT_KINDS:
            raise ConfigError(DEVICE, f"receipt.kind {r.kind!r} is not one of {', '.join(RECEIPT_KINDS)}")
        if r.kind == "serial" and not r.url or r.kind == "network" and not r.host:
            raise ConfigError(DEVICE, f"receipt: kind {r.kind} needs {'url' if r.kind == 'serial' else 'host'}")
        if r.kind == "serial":
            check_port_url(r.url, device="receipt", simulation=simulation)
    if config.a4printer is not None and not config.a4printer.queue.strip():
        raise ConfigError(DEVICE, "a4printer.queue must not be empty")
    if config.bankcard is not None and not 0 < config.bankcard.vpcd_port <= MAX_PORT:
        raise ConfigError(DEVICE, "bankcard.vpcd_port is out of range")
    return config


def config_from_mapping(data: Mapping[str, Any], *, source: str = "configuration",
                        simulation: bool = False) -> KioskConfig:
    """`simulation` also admits ``loop://`` ports (never ``spy://``); a production file never does."""
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ConfigError(DEVICE, f"{source}: unknown section(s) {', '.join(unknown)}; "
                                  f"known: {', '.join(SECTIONS)}")
    sections = {name: _section(f"{source} [{name}]", SECTIONS[name], raw) for name, raw in data.items()}
    return _validate(KioskConfig(**sections), simulation)


def load_config(path: Path) -> KioskConfig:
    """Read and validate a TOML (``.toml``) or JSON (``.json``) kiosk configuration file."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError(DEVICE, f"cannot read {path}: {exc.strerror}") from exc
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text.decode("utf-8"))
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(DEVICE, f"{path}: use a .toml or .json file")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(DEVICE, f"{path} is not valid {path.suffix[1:].upper()}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(DEVICE, f"{path}: the top level must be a table of sections")
    return config_from_mapping(data, source=str(path))
