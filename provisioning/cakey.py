"""CA private keys at rest: scrypt (RFC 7914) + AES-256-GCM around the PKCS#8 DER key.

`cryptography` writes encrypted PKCS#8 only with OpenSSL's default 2,048 PBKDF2 rounds, and
its PKCS#12 writer keeps a 2,048-round MAC that is a cheaper passphrase oracle than the key bag.
So CA keys get a small JSON document instead, every parameter in it and bound to the ciphertext
as associated data:

    {"format": "mch-ca-key/1", "kdf": "scrypt", "n": 131072, "r": 8, "p": 1, "salt": <b64>,
     "cipher": "AES-256-GCM", "nonce": <b64>, "ciphertext": <b64>}

n = 2**17, r = 8, p = 1 is OWASP's scrypt recommendation (128 MiB, ~0.3 s here).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from provisioning.errors import PassphraseError, ProvisioningError

FORMAT = "mch-ca-key/1"
KDF = "scrypt"
CIPHER = "AES-256-GCM"
SALT_BYTES = 16
NONCE_BYTES = 12
KEY_BYTES = 32
MAX_N = 2**20  # refuse a file that would make us allocate more than 1 GiB


@dataclass(frozen=True)
class ScryptCost:
    n: int = 2**17
    r: int = 8
    p: int = 1

    @classmethod
    def from_header(cls, header: dict[str, Any]) -> ScryptCost:
        """The cost a sealed file names, refused (ValueError) when it is out of range."""
        cost = cls(int(header["n"]), int(header["r"]), int(header["p"]))
        if not 2 <= cost.n <= MAX_N or cost.n & (cost.n - 1) or not 1 <= cost.r <= 32 or not 1 <= cost.p <= 16:
            raise ValueError(f"scrypt parameters out of range: {cost}")
        return cost


PRODUCTION_COST = ScryptCost()


def derive_key(passphrase: bytes, salt: bytes, cost: ScryptCost) -> bytes:
    """The AES-256 key of a passphrase-sealed file (CA keys, the ceremony's hub copy)."""
    return Scrypt(salt=salt, length=KEY_BYTES, n=cost.n, r=cost.r, p=cost.p).derive(passphrase)


def _header(cost: ScryptCost, salt: bytes, nonce: bytes) -> dict[str, Any]:
    return {"format": FORMAT, "kdf": KDF, "n": cost.n, "r": cost.r, "p": cost.p,
            "salt": base64.b64encode(salt).decode(), "cipher": CIPHER, "nonce": base64.b64encode(nonce).decode()}


def header_aad(header: dict[str, Any]) -> bytes:
    """A sealed file's header, bound to its ciphertext as AES-GCM associated data."""
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def protect(key: ec.EllipticCurvePrivateKey, passphrase: bytes, cost: ScryptCost = PRODUCTION_COST) -> bytes:
    salt, nonce = os.urandom(SALT_BYTES), os.urandom(NONCE_BYTES)
    header = _header(cost, salt, nonce)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    sealed = AESGCM(derive_key(passphrase, salt, cost)).encrypt(nonce, der, header_aad(header))
    return (json.dumps({**header, "ciphertext": base64.b64encode(sealed).decode()}, indent=2) + "\n").encode()


def unprotect(data: bytes, source: str, passphrase: bytes) -> ec.EllipticCurvePrivateKey:
    try:
        doc = json.loads(data)
        header = {k: doc[k] for k in ("format", "kdf", "n", "r", "p", "salt", "cipher", "nonce")}
        if (header["format"], header["kdf"], header["cipher"]) != (FORMAT, KDF, CIPHER):
            raise ValueError(f"want {FORMAT} with {KDF} and {CIPHER}")
        cost = ScryptCost.from_header(header)
        salt, nonce = base64.b64decode(header["salt"]), base64.b64decode(header["nonce"])
        sealed = base64.b64decode(doc["ciphertext"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ProvisioningError(f"{source}: not an mch CA key file ({exc})") from None
    try:
        der = AESGCM(derive_key(passphrase, salt, cost)).decrypt(nonce, sealed, header_aad(header))
    except InvalidTag:
        raise PassphraseError(f"{source}: wrong passphrase (the key did not decrypt)") from None
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ProvisioningError(f"{source}: expected an ECDSA P-256 key")
    return key
