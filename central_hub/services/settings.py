"""The services' settings: ``<state dir>/services.json`` (mode 0600: it holds the acquirer MAC key).

    {"acquirer": {"host": "127.0.0.1", "port": 8583, "mac_key": "<32 hex>", "merchant_id": "..."},
     "timetable": "/path/to/timetable.json"}

Both parts are optional: without an acquirer, payment refuses with `payment-unavailable`;
without a timetable, the synthetic one in central_hub/services/data/ is used.
"""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from central_hub.errors import HubConfigError
from central_hub.services.gateway import GatewayConfig

SETTINGS_FILE = "services.json"


@dataclass(frozen=True)
class ServicesSettings:
    gateway: GatewayConfig | None = None
    timetable: dict[str, Any] | None = None


def load_settings(state_dir: Path) -> ServicesSettings:
    path = Path(state_dir) / SETTINGS_FILE
    if not path.exists():
        return ServicesSettings()
    try:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            raise HubConfigError(f"{path} holds the acquirer MAC key: it must be mode 600 (chmod 600)")
        doc = json.loads(path.read_text("utf-8"))
        gateway = None
        if doc.get("acquirer"):
            a = doc["acquirer"]
            gateway = GatewayConfig(str(a["host"]), int(a["port"]), bytes.fromhex(a["mac_key"]),
                                    **({"merchant_id": a["merchant_id"]} if "merchant_id" in a else {}))
            if len(gateway.mac_key) != 16:
                raise ValueError("mac_key must be 32 hex digits")
        timetable = json.loads(Path(doc["timetable"]).read_text("utf-8")) if doc.get("timetable") else None
        return ServicesSettings(gateway, timetable)
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise HubConfigError(f"{path}: {exc.__class__.__name__}: {exc}") from None
