"""The app's own settings (`[app]` table of a TOML file passed with --app-config): hospital name,
terminal id, idle timeout, technician credentials (scrypt hashes only), PIN-pad key slots and the
master key's algorithm (the ceremony's: TDES or SM4)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kiosk.epp.crypto import Algorithm
from kiosk.errors import ConfigError
from kiosk.flows.pin import PinKeys

DEVICE = "app"


@dataclass(frozen=True)
class AppSettings:
    hospital: str = "样例市妇幼保健院"
    terminal_id: str = "KIOSK001"
    idle_s: float = 90.0
    warn_s: float = 20.0
    technicians: dict[str, str] = field(default_factory=dict)   # technician id -> scrypt hash
    pin_keys: PinKeys = PinKeys()
    log_dir: Path = Path("/var/log/mch-kiosk")
    export_dir: Path = Path("/media/usb")
    voice: bool = True
    master_key_algorithm: Algorithm = Algorithm.TDES  # what `mch-provision ceremony --algorithm` made


def load_settings(path: Path) -> AppSettings:
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(DEVICE, f"cannot read app settings {path}: {exc}") from exc
    raw: dict[str, Any] = data.get("app", {})
    known = {"hospital", "terminal_id", "idle_s", "warn_s", "technicians", "pin_slot", "mac_slot",
             "terminal_mac_slot", "log_dir",
             "export_dir", "voice", "master_key_algorithm"}
    unknown = sorted(set(raw) - known)
    if unknown or set(data) - {"app"}:
        raise ConfigError(DEVICE, f"{path}: unknown setting(s) {', '.join(unknown) or ', '.join(set(data) - {'app'})}")
    try:
        settings = AppSettings(
            hospital=str(raw.get("hospital", AppSettings.hospital)),
            terminal_id=str(raw.get("terminal_id", AppSettings.terminal_id)),
            idle_s=float(raw.get("idle_s", AppSettings.idle_s)), warn_s=float(raw.get("warn_s", AppSettings.warn_s)),
            technicians={str(k): str(v) for k, v in dict(raw.get("technicians", {})).items()},
            pin_keys=PinKeys(int(raw.get("pin_slot", 1)), int(raw.get("mac_slot", 2)),
                             int(raw.get("terminal_mac_slot", 4)) or None),  # 0: no terminal MAC
            log_dir=Path(raw.get("log_dir", AppSettings.log_dir)),
            export_dir=Path(raw.get("export_dir", AppSettings.export_dir)), voice=bool(raw.get("voice", True)))
    except (TypeError, ValueError) as exc:
        raise ConfigError(DEVICE, f"{path}: {exc}") from exc
    algorithm = str(raw.get("master_key_algorithm", "TDES")).upper()
    if algorithm not in Algorithm.__members__:
        raise ConfigError(DEVICE, f"{path}: master_key_algorithm must be TDES or SM4, not {algorithm!r}")
    settings = replace(settings, master_key_algorithm=Algorithm[algorithm])
    if not 0 < settings.warn_s < settings.idle_s:
        raise ConfigError(DEVICE, f"{path}: need 0 < warn_s < idle_s")
    if any(not v.startswith("scrypt$") for v in settings.technicians.values()):
        raise ConfigError(DEVICE, f"{path}: technician credentials must be scrypt hashes "
                                  "(make one with `mch-kiosk hash-credential`)")
    return settings
