"""Per-device envelope keys (COSE symmetric keys with a Base IV), one pair per direction.

Two directions use two keys so that the device's and the hub's counters can never make the
same nonce. Provisioning writes them to the device bundle and to the hub registry as
``link-keys.json``; the firmware reads the same file.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from mch_link.cose import KEY_LEN, NONCE_LEN
from mch_link.errors import LinkError
from mch_link.topics import validate_device_id

KEYS_FILE = "link-keys.json"
FORMAT = "mch-link-keys/1"


@dataclass(frozen=True)
class DirectionKey:
    key: bytes
    base_iv: bytes

    def __post_init__(self) -> None:
        if len(self.key) != KEY_LEN or len(self.base_iv) != NONCE_LEN:
            raise LinkError(f"envelope key must be {KEY_LEN} bytes and base IV {NONCE_LEN} bytes")

    def __repr__(self) -> str:  # never print key material
        return "DirectionKey(<secret>)"

    @classmethod
    def generate(cls) -> DirectionKey:
        return cls(secrets.token_bytes(KEY_LEN), secrets.token_bytes(NONCE_LEN))


@dataclass(frozen=True)
class LinkKeys:
    device_id: str
    uplink: DirectionKey  # device -> hub
    downlink: DirectionKey  # hub -> device

    def __post_init__(self) -> None:
        validate_device_id(self.device_id)

    @classmethod
    def generate(cls, device_id: str) -> LinkKeys:
        return cls(device_id, DirectionKey.generate(), DirectionKey.generate())

    def to_json(self) -> str:
        return json.dumps({
            "format": FORMAT,
            "device_id": self.device_id,
            "alg": "AES-CCM-16-64-128",
            "uplink": {"k": self.uplink.key.hex(), "base_iv": self.uplink.base_iv.hex()},
            "downlink": {"k": self.downlink.key.hex(), "base_iv": self.downlink.base_iv.hex()},
        }, indent=2)

    @classmethod
    def from_json(cls, text: str) -> LinkKeys:
        try:
            d = json.loads(text)
            if d.get("format") != FORMAT:
                raise LinkError(f"link keys: unknown format {d.get('format')!r}")
            return cls(
                d["device_id"],
                DirectionKey(bytes.fromhex(d["uplink"]["k"]), bytes.fromhex(d["uplink"]["base_iv"])),
                DirectionKey(bytes.fromhex(d["downlink"]["k"]), bytes.fromhex(d["downlink"]["base_iv"])),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise LinkError(f"link keys: malformed ({exc.__class__.__name__}: {exc})") from None

    def write(self, path: Path) -> None:
        """Write with mode 0600 from the first byte (no window where the file is readable)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.to_json())
        os.chmod(path, 0o600)

    @classmethod
    def read(cls, path: Path) -> LinkKeys:
        try:
            return cls.from_json(Path(path).read_text())
        except OSError as exc:
            raise LinkError(f"link keys: cannot read {path}: {exc.strerror}") from None
