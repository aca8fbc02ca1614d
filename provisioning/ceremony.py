"""The PIN-pad master-key ceremony, technician side: 2-3 custodians, one component each.

`run_ceremony` makes a random master key as the XOR of one random component per custodian.
Each component is handed to its custodian through `show` (on the laptop: the screen, to that
custodian alone; they copy it onto their sealed form) and is never written anywhere. Written are:

- one PDF slip per custodian (provisioning/slips.py) with their component's KCV and the combined
  KCV, but never a component: at the kiosk, in maintenance mode, each custodian types their
  component and the slip's KCV (kiosk.flows.maintenance.KeyCeremony) and the pad's combined KCV
  must match the slip;
- the hub's copy of the combined key for the acquirer simulator, encrypted at rest:
  scrypt (n = 2^17, r = 8, p = 1) + AES-256-GCM with every parameter bound as associated data
  (`seal_master_key` / `open_master_key`, format ``mch-pinpad-key/1``).

KCV = the first 3 bytes of E_K(0...0) (3DES or SM4, as kiosk.epp.crypto computes it). Python
cannot wipe memory: components live only in local variables of this call until it returns.
"""

from __future__ import annotations

import base64
import enum
import json
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from provisioning.cakey import PRODUCTION_COST, ScryptCost, derive_key, header_aad
from provisioning.errors import PassphraseError, ProvisioningError
from provisioning.files import write_secret

FORMAT = "mch-pinpad-key/1"
KCV_BYTES = 3
MIN_CUSTODIANS, MAX_CUSTODIANS = 2, 3
MASTER_SLOTS = range(0x01, 0x20)  # ZT598-class pads: master keys in slots 01..1F
SALT_BYTES, NONCE_BYTES = 16, 12


class Algorithm(enum.Enum):
    TDES = "tdes"  # double-length 3DES (16 bytes)
    SM4 = "sm4"  # 16 bytes

    @property
    def key_bytes(self) -> int:
        return 16


class CeremonyError(ProvisioningError):
    """A ceremony could not be held (custodians, slot) or a hub copy could not be opened."""


def kcv(algorithm: Algorithm, key: bytes) -> str:
    """Key check value, hex upper case: first 3 bytes of the key enciphering a zero block."""
    if algorithm is Algorithm.SM4:
        cipher = Cipher(algorithms.SM4(key), modes.ECB())
        block = bytes(16)
    else:
        cipher = Cipher(TripleDES(key + key[:8]), modes.ECB())
        block = bytes(8)
    enc = cipher.encryptor()
    return (enc.update(block) + enc.finalize())[:KCV_BYTES].hex().upper()


@dataclass(frozen=True)
class Custodian:
    number: int  # 1-based
    name: str
    component_kcv: str


@dataclass(frozen=True)
class CeremonyRecord:
    ceremony_id: str
    slot: int
    algorithm: Algorithm
    combined_kcv: str
    custodians: tuple[Custodian, ...]
    at: str
    hub_copy: Path
    slips: tuple[Path, ...]

    def summary(self) -> dict[str, Any]:
        """What goes in the journal and --json: KCVs and names, never a component."""
        return {"ceremony_id": self.ceremony_id, "slot": self.slot, "algorithm": self.algorithm.value,
                "combined_kcv": self.combined_kcv, "at": self.at, "hub_copy": str(self.hub_copy),
                "custodians": [{"number": c.number, "name": c.name, "kcv": c.component_kcv}
                               for c in self.custodians],
                "slips": [str(s) for s in self.slips]}


ShowComponent = Callable[[Custodian, str], None]
WriteSlip = Callable[[CeremonyRecord, Custodian, Path], Path]


def seal_master_key(key: bytes, header_fields: dict[str, Any], passphrase: bytes,
                    cost: ScryptCost = PRODUCTION_COST) -> bytes:
    salt, nonce = os.urandom(SALT_BYTES), os.urandom(NONCE_BYTES)
    header = {**header_fields, "format": FORMAT, "kdf": "scrypt", "n": cost.n, "r": cost.r, "p": cost.p,
              "salt": base64.b64encode(salt).decode(), "cipher": "AES-256-GCM",
              "nonce": base64.b64encode(nonce).decode()}
    sealed = AESGCM(derive_key(passphrase, salt, cost)).encrypt(nonce, key, header_aad(header))
    return (json.dumps({"header": header, "ciphertext": base64.b64encode(sealed).decode()}, indent=2) + "\n").encode()


def open_master_key(data: bytes, source: str, passphrase: bytes) -> tuple[bytes, dict[str, Any]]:
    """The hub's side: the combined key and its header (slot, algorithm, KCV), KCV checked."""
    try:
        doc = json.loads(data)
        header = dict(doc["header"])
        if header["format"] != FORMAT:
            raise ValueError(f"want {FORMAT}")
        cost = ScryptCost.from_header(header)
        salt, nonce = base64.b64decode(header["salt"]), base64.b64decode(header["nonce"])
        sealed = base64.b64decode(doc["ciphertext"])
        algorithm = Algorithm(header["algorithm"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CeremonyError(f"{source}: not a PIN-pad master key file ({exc})") from None
    try:
        key = AESGCM(derive_key(passphrase, salt, cost)).decrypt(nonce, sealed, header_aad(header))
    except InvalidTag:
        raise PassphraseError(f"{source}: wrong hub key passphrase, or the file was altered") from None
    if kcv(algorithm, key) != header["combined_kcv"]:
        raise CeremonyError(f"{source}: the key does not match its KCV {header['combined_kcv']}")
    return key, header


def run_ceremony(custodian_names: Sequence[str], slot: int, algorithm: Algorithm, *, show: ShowComponent,
                 write_slip: WriteSlip, slips_dir: Path, hub_copy: Path, hub_passphrase: bytes,
                 cost: ScryptCost = PRODUCTION_COST) -> CeremonyRecord:
    """Generate, hand out (via `show`), write slips and the sealed hub copy; returns the record."""
    names = [n.strip() for n in custodian_names]
    if not MIN_CUSTODIANS <= len(names) <= MAX_CUSTODIANS:
        raise CeremonyError(f"a ceremony has {MIN_CUSTODIANS} or {MAX_CUSTODIANS} custodians, got {len(names)}: "
                            "give --custodian NAME for each")
    if not all(names) or len(set(names)) != len(names):
        raise CeremonyError("custodians must be distinct people with names (one component each)")
    if slot not in MASTER_SLOTS:
        raise CeremonyError(f"master key slot must be 1..31, got {slot}")
    if not hub_passphrase:
        raise PassphraseError("the hub key passphrase must not be empty")
    if os.path.lexists(hub_copy):
        raise CeremonyError(f"{hub_copy} exists; a ceremony never replaces a master key file")
    components = [secrets.token_bytes(algorithm.key_bytes) for _ in names]
    combined = reduce(lambda a, b: bytes(x ^ y for x, y in zip(a, b, strict=True)), components)
    custodians = tuple(Custodian(i, name, kcv(algorithm, comp)) for i, (name, comp) in enumerate(zip(names, components,
                                                                                                     strict=True), 1))
    record = CeremonyRecord(secrets.token_hex(4).upper(), slot, algorithm, kcv(algorithm, combined), custodians,
                            datetime.now(UTC).isoformat(timespec="seconds"), hub_copy, ())
    header = {"ceremony_id": record.ceremony_id, "slot": slot, "algorithm": algorithm.value,
              "combined_kcv": record.combined_kcv, "at": record.at}
    write_secret(hub_copy, seal_master_key(combined, header, hub_passphrase, cost), exclusive=True)
    del combined
    slips = []
    for custodian, component in zip(custodians, components, strict=True):
        show(custodian, component.hex().upper())
        slips.append(write_slip(record, custodian, slips_dir))
    components.clear()
    return CeremonyRecord(record.ceremony_id, slot, algorithm, record.combined_kcv, custodians, record.at,
                          hub_copy, tuple(slips))
