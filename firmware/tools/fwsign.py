"""Firmware signing for technicians' tooling (CPython): key generation, manifest, verification.

The manifest format and the signed bytes are those of firmware/mchfw/update.py (the device
verifies with pure-Python P-256 there); docs/firmware.md describes them. The provisioning CLI
can call `make_manifest` / `generate_key` directly.

    python -m firmware.tools.fwsign keygen  <key.pem> <pub.hex>
    python -m firmware.tools.fwsign sign    <image> <version> <board> <key.pem> <key_id> <out.json>
    python -m firmware.tools.fwsign verify  <image> <manifest.json> <pub.hex>
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

FORMAT = "mchfw-manifest/1"
FIELDS = ("format", "version", "board", "size", "sha256", "key_id")
COORD_LEN = 32


class SigningError(Exception):
    """Bad input to the signing tool (key, version, image)."""


def signing_input(m: dict) -> bytes:
    return "\n".join(f"{k}={m[k]}" for k in FIELDS).encode()


def generate_key() -> tuple[bytes, bytes]:
    """(private key PEM, unencrypted PKCS8), (public key, 65-byte SEC1 uncompressed)."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return pem, public_sec1(key)


def public_sec1(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def load_key(pem: bytes, password: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem, password)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise SigningError("firmware signing key must be ECDSA P-256")
    return key


def make_manifest(image: bytes, version: str, board: str, key: ec.EllipticCurvePrivateKey, key_id: str) -> dict:
    parts = version.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise SigningError(f"version must be X.Y.Z, got {version!r}")
    if not image:
        raise SigningError("empty image")
    m = {"format": FORMAT, "version": version, "board": board, "size": len(image),
         "sha256": hashlib.sha256(image).hexdigest(), "key_id": key_id}
    r, s = decode_dss_signature(key.sign(signing_input(m), ec.ECDSA(hashes.SHA256())))
    m["signature"] = (r.to_bytes(COORD_LEN, "big") + s.to_bytes(COORD_LEN, "big")).hex()
    return m


def verify_manifest(image: bytes, m: dict, pub_sec1: bytes) -> bool:
    if m.get("format") != FORMAT or hashlib.sha256(image).hexdigest() != m.get("sha256") or len(image) != m.get("size"):
        return False
    sig = bytes.fromhex(m["signature"])
    der = encode_dss_signature(int.from_bytes(sig[:COORD_LEN], "big"), int.from_bytes(sig[COORD_LEN:], "big"))
    pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pub_sec1)
    try:
        pub.verify(der, signing_input(m), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def main(argv: list[str]) -> int:
    if len(argv) >= 4 and argv[1] == "keygen":
        pem, pub = generate_key()
        Path(argv[2]).write_bytes(pem)
        Path(argv[2]).chmod(0o600)
        Path(argv[3]).write_text(pub.hex() + "\n")
        return 0
    if len(argv) >= 8 and argv[1] == "sign":
        image = Path(argv[2]).read_bytes()
        m = make_manifest(image, argv[3], argv[4], load_key(Path(argv[5]).read_bytes()), argv[6])
        Path(argv[7]).write_text(json.dumps(m, indent=1) + "\n")
        return 0
    if len(argv) >= 5 and argv[1] == "verify":
        ok = verify_manifest(Path(argv[2]).read_bytes(), json.loads(Path(argv[3]).read_text()),
                             bytes.fromhex(Path(argv[4]).read_text().strip()))
        print("OK" if ok else "INVALID")
        return 0 if ok else 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
