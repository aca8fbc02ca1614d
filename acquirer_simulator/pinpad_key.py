"""The key ceremony's hub copy of a PIN-pad master key, opened on the acquirer's side.

`mch-provision ceremony` writes it (format ``mch-pinpad-key/1``, docs/provisioning.md):

    {"header": {"format": "mch-pinpad-key/1", "ceremony_id": ..., "slot": 3, "algorithm": "tdes"|"sm4",
                "combined_kcv": "<6 hex>", "kdf": "scrypt", "n": .., "r": .., "p": .., "salt": <b64>,
                "cipher": "AES-256-GCM", "nonce": <b64>},
     "ciphertext": <b64 of AES-256-GCM(scrypt(passphrase, salt) -> 32 bytes, the 16-byte key)>}

The whole header, as compact JSON with sorted keys, is the AES-GCM associated data, so no field
can be changed. This is a reader of that documented format only (the simulator does not import
the provisioning tool); the key is then checked against its KCV.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, replace
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from acquirer_simulator.pin import SM4, TDES

FORMAT = "mch-pinpad-key/1"
PASSPHRASE_ENV = "MCH_PINPAD_KEY_PASSPHRASE"  # the same variable the ceremony reads
MAX_SCRYPT_N = 2**20  # a file asking for more memory than 1 GiB is refused, not obeyed


class PinpadKeyError(ValueError):
    """Not such a file, a wrong passphrase or an altered file, or a key that fails its KCV."""


@dataclass(frozen=True)
class MasterKey:
    slot: int
    algorithm: str  # pin.TDES | pin.SM4
    kcv: str
    key: bytes

    def __repr__(self) -> str:  # never the key itself in a log line or traceback
        return f"MasterKey(slot={self.slot}, algorithm={self.algorithm}, kcv={self.kcv})"

    def unwrap(self, wrapped: bytes) -> bytes:
        """A working key enciphered under this master key (ECB), as it is loaded into the pad."""
        if not wrapped or len(wrapped) % _block(self.algorithm):
            raise PinpadKeyError(f"a key under the master key is whole {_block(self.algorithm)}-byte blocks")
        dec = _cipher(self.algorithm, self.key).decryptor()
        return dec.update(wrapped) + dec.finalize()


def _block(algorithm: str) -> int:
    return 16 if algorithm == SM4 else 8


def _cipher(algorithm: str, key: bytes) -> Cipher[modes.ECB]:
    if algorithm == SM4:
        return Cipher(algorithms.SM4(key), modes.ECB())
    return Cipher(TripleDES(key + key[:8]), modes.ECB())  # double-length 3DES, K1 K2 K1


def key_check_value(algorithm: str, key: bytes) -> str:
    enc = _cipher(algorithm, key).encryptor()
    return (enc.update(bytes(_block(algorithm))) + enc.finalize())[:3].hex().upper()


def _sealing_key(header: dict[str, Any], passphrase: bytes) -> bytes:
    n, r, p = (int(header[k]) for k in ("n", "r", "p"))
    if not 2 <= n <= MAX_SCRYPT_N or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise ValueError(f"scrypt parameters out of range: n={n} r={r} p={p}")
    return Scrypt(salt=base64.b64decode(header["salt"]), length=32, n=n, r=r, p=p).derive(passphrase)


def open_pinpad_key(data: bytes, source: str, passphrase: bytes) -> MasterKey:
    try:
        doc = json.loads(data)
        header = dict(doc["header"])
        if (header["format"], header["kdf"], header["cipher"]) != (FORMAT, "scrypt", "AES-256-GCM"):
            raise ValueError(f"want {FORMAT} with scrypt and AES-256-GCM")
        if header["algorithm"] not in (TDES, SM4):
            raise ValueError(f"unknown algorithm {header['algorithm']!r}")
        sealed, nonce = base64.b64decode(doc["ciphertext"]), base64.b64decode(header["nonce"])
        master = MasterKey(int(header["slot"]), header["algorithm"], str(header["combined_kcv"]), b"")
        aead = AESGCM(_sealing_key(header, passphrase))
    except (ValueError, KeyError, TypeError) as exc:
        raise PinpadKeyError(f"{source}: not a PIN-pad master key file ({exc})") from None
    try:
        key = aead.decrypt(nonce, sealed, json.dumps(header, sort_keys=True, separators=(",", ":")).encode())
    except InvalidTag:
        raise PinpadKeyError(f"{source}: wrong passphrase (${PASSPHRASE_ENV}), or the file was altered") from None
    if len(key) != 16 or key_check_value(master.algorithm, key) != master.kcv:
        raise PinpadKeyError(f"{source}: the key does not match its KCV {master.kcv}")
    return replace(master, key=key)
