"""One patient's visit in memory, and the idle timer that ends it.

Everything personal the kiosk learns (ID card identity, patient, record, bank card data, booking,
payment) lives only in a `Session`; `wipe()` drops it all. `personal_strings()` lists what must
not survive a wipe anywhere (widgets, logs, files): the privacy tests scan for exactly these.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from kiosk.bankcard.card_data import BankCardData
from kiosk.hospital.api import Booking, CardBinding, Patient, PaymentResult, PregnancyRecord
from kiosk.idcard.identity import Identity

DEFAULT_IDLE_S = 90.0
DEFAULT_WARN_S = 20.0
MORE_TIME_S = 60.0


@dataclass
class Session:
    identity: Identity | None = None
    patient: Patient | None = None
    record: PregnancyRecord | None = None
    bank_card: BankCardData | None = None
    bindings: list[CardBinding] = field(default_factory=list)
    booking: Booking | None = None
    payment: PaymentResult | None = None
    queued: list[str] = field(default_factory=list)   # kinds of what was queued for the hub
    _keys: dict[str, str] = field(default_factory=dict, repr=False)

    def idempotency_key(self, action: str) -> str:
        """One key per patient action, reused on every retry of that action."""
        return self._keys.setdefault(action, uuid.uuid4().hex)

    def new_attempt(self, action: str) -> str:
        """A fresh key: a new attempt (another PIN, another slot) is a different request."""
        self._keys.pop(action, None)
        return self.idempotency_key(action)

    def forget(self, action: str) -> None:
        """The hub has answered `action`: its next request gets a fresh key."""
        self._keys.pop(action, None)

    @property
    def identified(self) -> bool:
        return self.patient is not None or self.identity is not None

    def personal_strings(self) -> list[str]:
        """Her name, ID number and card number as held now (for the privacy scans)."""
        found: list[str] = []
        if self.identity is not None:
            found += [self.identity.name, self.identity.id_number]
        if self.patient is not None:
            found.append(self.patient.name)
        if self.bank_card is not None:
            found.append(self.bank_card.pan)
        return [s for s in dict.fromkeys(found) if s]

    def wipe(self) -> None:
        self.identity = self.patient = self.record = self.bank_card = None
        self.booking = self.payment = None
        self.bindings = []
        self.queued = []
        self._keys = {}

    def __repr__(self) -> str:
        return f"Session(identified={self.identified}, booking={'yes' if self.booking else 'no'})"


class IdleTimer:
    """Counts down while nobody touches the screen; warns `warn_s` before the end."""

    def __init__(self, idle_s: float = DEFAULT_IDLE_S, warn_s: float = DEFAULT_WARN_S, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < warn_s < idle_s:
            raise ValueError("need 0 < warn_s < idle_s")
        self.idle_s = idle_s
        self.warn_s = warn_s
        self._clock = clock
        self._deadline = clock() + idle_s

    def touch(self) -> None:
        self._deadline = max(self._deadline, self._clock() + self.idle_s)

    def more_time(self, extra_s: float = MORE_TIME_S) -> None:
        self._deadline = self._clock() + max(extra_s, self.idle_s)

    def remaining_s(self) -> float:
        return max(self._deadline - self._clock(), 0.0)

    def warning(self) -> bool:
        return 0 < self.remaining_s() <= self.warn_s

    def expired(self) -> bool:
        return self.remaining_s() <= 0
