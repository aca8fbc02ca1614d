"""The provisioning bundle as the firmware reads it.

Files (docs/link-contract.md, written by mch-provision): config.json (device_id, kind,
broker {host, port}, optional firmware, ntp, wifi and hw sections), link-keys.json
(mch-link-keys/1), device.crt.pem, device.key.pem, ca.pem. PEM is converted to DER here
because MicroPython's mbedTLS binding only parses DER.
"""

import binascii
import json

from mchfw import fsutil

KEYS_FORMAT = "mch-link-keys/1"
FIRMWARE_KEYS_FILE = "firmware-keys.json"  # written by mch-provision firmware keygen / board
FIRMWARE_KEYS_FORMAT = "mchfw-keys/1"
SEC1_LEN = 65
KEY_LEN = 16
IV_LEN = 13
PEM_DASHES = b"-----"
DEFAULT_FIRMWARE = "mchfw/0.1.0"


class ConfigError(ValueError):
    """The bundle is missing a file or a field; the message names which."""


def pem_to_der(pem: bytes) -> bytes:
    """DER of the first PEM block (mbedTLS here takes one DER certificate per call)."""
    lines = []
    inside = False
    for line in pem.split(b"\n"):
        line = line.strip()
        if line.startswith(PEM_DASHES):
            if inside:
                break
            inside = True
        elif inside and line:
            lines.append(line)
    body = b"".join(lines)
    try:
        return binascii.a2b_base64(body)
    except ValueError:
        raise ConfigError("not a PEM file") from None


def _hex(d, key: str, n: int, where: str) -> bytes:
    try:
        v = binascii.unhexlify(d[key])
    except (KeyError, ValueError, TypeError):
        raise ConfigError(f"{where}: {key} missing or not hex") from None
    if len(v) != n:
        raise ConfigError(f"{where}: {key} must be {n} bytes")
    return v


class Config:
    def __init__(self, bundle: str) -> None:
        self.bundle = bundle
        try:
            raw = json.loads(fsutil.read_bytes(bundle + "/config.json"))
            keys = json.loads(fsutil.read_bytes(bundle + "/link-keys.json"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"bundle {bundle}: cannot read config.json/link-keys.json ({exc!r})") from None
        try:
            self.device_id = raw["device_id"]
            self.kind = raw.get("kind", "bridge")
            broker = raw.get("broker", {})
            self.broker_host = raw.get("broker_host") or broker["host"]
            self.broker_port = int(raw.get("broker_port") or broker["port"])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ConfigError("config.json: want device_id and broker_host/broker_port") from None
        # The name checked against the broker certificate (mbedTLS matches DNS names).
        self.broker_tls_name = raw.get("broker_tls_name", self.broker_host)
        self.firmware = raw.get("firmware", DEFAULT_FIRMWARE)
        self.ntp_host = raw.get("ntp", {}).get("host", "")
        self.wifi = raw.get("wifi", {})
        self.hw = raw.get("hw", {})
        self.bridge = raw.get("bridge", {})
        self.raw = raw
        if not isinstance(keys, dict) or keys.get("format") != KEYS_FORMAT:
            raise ConfigError(f"link-keys.json: format must be {KEYS_FORMAT}")
        if keys.get("device_id") != self.device_id:
            raise ConfigError("link-keys.json is for {!r}, config.json for {!r}".format(keys.get("device_id"), self.device_id))
        up, down = keys.get("uplink", {}), keys.get("downlink", {})
        self.uplink_key = _hex(up, "k", KEY_LEN, "uplink")
        self.uplink_iv = _hex(up, "base_iv", IV_LEN, "uplink")
        self.downlink_key = _hex(down, "k", KEY_LEN, "downlink")
        self.downlink_iv = _hex(down, "base_iv", IV_LEN, "downlink")

    def firmware_keys(self) -> dict:
        """key_id -> SEC1 public key of the firmware signing keys this device trusts ({} without the file:
        every update offer is then refused as unknown-key)."""
        path = self.bundle + "/" + FIRMWARE_KEYS_FILE
        if not fsutil.exists(path):
            return {}
        try:
            doc = json.loads(fsutil.read_bytes(path))
        except (OSError, ValueError):
            raise ConfigError(FIRMWARE_KEYS_FILE + ": not JSON") from None
        if not isinstance(doc, dict) or doc.get("format") != FIRMWARE_KEYS_FORMAT or not isinstance(doc.get("keys"), dict):
            raise ConfigError(FIRMWARE_KEYS_FILE + ": format must be " + FIRMWARE_KEYS_FORMAT + " with keys")
        out = {}
        for key_id, pub in doc["keys"].items():
            try:
                raw = binascii.unhexlify(pub)
            except (ValueError, TypeError):
                raise ConfigError(FIRMWARE_KEYS_FILE + ": key " + str(key_id) + " is not hex") from None
            if len(raw) != SEC1_LEN:
                raise ConfigError(FIRMWARE_KEYS_FILE + ": key " + str(key_id) + " is not a 65-byte SEC1 point")
            out[key_id] = raw
        return out

    def tls_material(self) -> tuple:
        """(cert DER, key DER, CA DER) for hw.tls_context."""
        try:
            return tuple(pem_to_der(fsutil.read_bytes(self.bundle + "/" + name))
                         for name in ("device.crt.pem", "device.key.pem", "ca.pem"))
        except OSError as exc:
            raise ConfigError(f"bundle {self.bundle}: certificate files missing ({exc!r})") from None
