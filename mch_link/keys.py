"""Per-device envelope keys (COSE symmetric keys with a Base IV), one pair per direction.

Two directions use two keys so that the device's and the hub's counters can never make the
same nonce. Provisioning writes them to the device bundle and to the hub registry as
``link-keys.json``; the firmware reads the same file.

Rotation (`LinkKeys.rotated`, `mch-provision rotate-keys`): new keys for both directions; the
keys they replace stay as each direction's `previous`, accepted for *opening* until
`previous_until_ms` (the grace window), so envelopes sealed under the old keys and still in
flight (broker queue, hub batch, ack on its way back) open and are stored once. Sealing always
uses the new key.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass, replace
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
    previous: DirectionKey | None = None  # the key this one replaced: still opens until previous_until_ms
    previous_until_ms: int = 0

    def __post_init__(self) -> None:
        if len(self.key) != KEY_LEN or len(self.base_iv) != NONCE_LEN:
            raise LinkError(f"envelope key must be {KEY_LEN} bytes and base IV {NONCE_LEN} bytes")
        if self.previous is not None and self.previous.previous is not None:
            raise LinkError("a key keeps one predecessor, not a chain")

    def previous_at(self, now_ms: int | None = None) -> DirectionKey | None:
        """The replaced key while its grace window lasts, else None."""
        if self.previous is None:
            return None
        now = int(time.time() * 1000) if now_ms is None else now_ms
        return self.previous if now < self.previous_until_ms else None

    def same_material(self, other: DirectionKey) -> bool:
        return self.key == other.key and self.base_iv == other.base_iv

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

    def rotated(self, grace_until_ms: int) -> LinkKeys:
        """New keys both ways; the current ones (without their own predecessors) open until `grace_until_ms`."""
        def new(old: DirectionKey) -> DirectionKey:
            return replace(DirectionKey.generate(), previous=replace(old, previous=None, previous_until_ms=0),
                           previous_until_ms=grace_until_ms)

        return LinkKeys(self.device_id, new(self.uplink), new(self.downlink))

    def to_json(self) -> str:
        d: dict[str, object] = {
            "format": FORMAT,
            "device_id": self.device_id,
            "alg": "AES-CCM-16-64-128",
            "uplink": _key_json(self.uplink),
            "downlink": _key_json(self.downlink),
        }
        if self.uplink.previous is not None and self.downlink.previous is not None:
            d["previous"] = {"until_ms": self.uplink.previous_until_ms, "uplink": _key_json(self.uplink.previous),
                             "downlink": _key_json(self.downlink.previous)}
        return json.dumps(d, indent=2)

    @classmethod
    def from_json(cls, text: str) -> LinkKeys:
        try:
            d = json.loads(text)
            if d.get("format") != FORMAT:
                raise LinkError(f"link keys: unknown format {d.get('format')!r}")
            up, down = _key_from(d["uplink"]), _key_from(d["downlink"])
            prev = d.get("previous")
            if prev is not None:  # a rotation's grace window (the firmware ignores this member)
                until = prev["until_ms"]
                if not isinstance(until, int) or isinstance(until, bool):
                    raise ValueError("previous.until_ms must be an integer")
                up = replace(up, previous=_key_from(prev["uplink"]), previous_until_ms=until)
                down = replace(down, previous=_key_from(prev["downlink"]), previous_until_ms=until)
            return cls(d["device_id"], up, down)
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


def _key_json(key: DirectionKey) -> dict[str, str]:
    return {"k": key.key.hex(), "base_iv": key.base_iv.hex()}


def _key_from(d: dict[str, str]) -> DirectionKey:
    return DirectionKey(bytes.fromhex(d["k"]), bytes.fromhex(d["base_iv"]))
