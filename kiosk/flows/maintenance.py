"""Maintenance mode behind a technician credential: device self-test, paper status, the PIN-pad
master-key ceremony (2-3 custodians, KCVs shown, no component kept in clear) and log export
without personal data."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from kiosk.epp import crypto as c
from kiosk.epp.driver import KeyComponent
from kiosk.errors import KioskDeviceError
from kiosk.flows.redact import redact

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MAX_FAILURES = 5
LOCKOUT_S = 300.0
MIN_CUSTODIANS, MAX_CUSTODIANS = 2, 3


def hash_credential(technician_id: str, pin: str, *, salt: bytes | None = None) -> str:
    """`scrypt$<salt hex>$<hash hex>` for the app settings (the PIN itself is never stored)."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(f"{technician_id}:{pin}".encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt${salt.hex()}${digest.hex()}"


class TechnicianGate:
    """Checks a technician's id + PIN; locks for `LOCKOUT_S` after `MAX_FAILURES` wrong tries."""

    def __init__(self, credentials: dict[str, str], *, clock: Callable[[], float] = time.monotonic) -> None:
        self._credentials = dict(credentials)
        self._clock = clock
        self._failures = 0
        self._locked_until = 0.0

    @property
    def locked(self) -> bool:
        return self._clock() < self._locked_until

    def check(self, technician_id: str, pin: str) -> bool:
        if self.locked:
            return False
        stored = self._credentials.get(technician_id, "")
        parts = stored.split("$")
        ok = len(parts) == 3 and hmac.compare_digest(
            hash_credential(technician_id, pin, salt=bytes.fromhex(parts[1])), stored)
        if ok:
            self._failures = 0
            return True
        self._failures += 1
        if self._failures >= MAX_FAILURES:
            self._failures = 0
            self._locked_until = self._clock() + LOCKOUT_S
        return False


class MasterKeyLoader(Protocol):
    def authenticate(self, respond: Callable[[bytes], bytes]) -> None: ...

    def load_master_key(self, slot: int, algorithm: c.Algorithm, components: list[KeyComponent],
                        combined_kcv: bytes) -> bytes: ...

    def logout(self) -> None: ...


@dataclass
class KeyCeremony:
    """Custodians enter their component and its KCV one after another; each KCV is checked as
    entered and shown; the pad combines the components. Components are dropped after loading."""

    slot: int
    algorithm: c.Algorithm
    custodians: int
    _components: list[KeyComponent] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if not MIN_CUSTODIANS <= self.custodians <= MAX_CUSTODIANS:
            raise ValueError(f"a ceremony has {MIN_CUSTODIANS} to {MAX_CUSTODIANS} custodians")

    @property
    def entered(self) -> int:
        return len(self._components)

    @property
    def complete(self) -> bool:
        return self.entered == self.custodians

    def add_component(self, component_hex: str, kcv_hex: str) -> str:
        """Check one custodian's component against its KCV; returns the KCV to show."""
        if self.complete:
            raise ValueError("every custodian has entered a component")
        try:
            value, kcv = bytes.fromhex(component_hex), bytes.fromhex(kcv_hex)
        except ValueError as exc:
            raise ValueError("component and KCV must be hexadecimal") from exc
        if len(value) not in (16, 24) if self.algorithm is c.Algorithm.TDES else len(value) != 16:
            raise ValueError("wrong component length for the algorithm")
        actual = c.kcv(self.algorithm, value)
        if len(kcv) < 3 or actual[:len(kcv)] != kcv:
            raise ValueError(f"custodian {self.entered + 1}: KCV does not match the component")
        self._components.append(KeyComponent(value, kcv))
        return actual[:3].hex().upper()

    def load(self, pad: MasterKeyLoader, respond: Callable[[bytes], bytes], combined_kcv_hex: str) -> str:
        """Authenticate to the pad, send the components, compare the combined KCV; forget them."""
        if not self.complete:
            raise ValueError(f"{self.custodians - self.entered} custodian(s) still to enter a component")
        try:
            pad.authenticate(respond)
            try:
                kcv = pad.load_master_key(self.slot, self.algorithm, self._components,
                                          bytes.fromhex(combined_kcv_hex))
            finally:
                pad.logout()
        finally:
            self._components.clear()
        return kcv[:3].hex().upper()


@dataclass(frozen=True)
class PaperStatus:
    receipt: str
    a4: str


def paper_status(receipt_status: Callable[[], str], a4_status: Callable[[], str]) -> PaperStatus:
    def safe(fn: Callable[[], str]) -> str:
        try:
            return fn()
        except KioskDeviceError as exc:
            return f"fault: {exc.message}"
    return PaperStatus(safe(receipt_status), safe(a4_status))


def export_logs(sources: Iterable[Path], dest: Path) -> int:
    """Copy log files line by line through the redactor into `dest`; returns lines written."""
    lines = 0
    with dest.open("w", encoding="utf-8") as out:
        for src in sources:
            with src.open(encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    out.write(redact(line))
                    lines += 1
    return lines
