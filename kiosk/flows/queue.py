"""Records kept for the hub when it cannot be reached (the link's durable outbox satisfies this).

Only identification and registration queue; booking and payment never do (a patient must not
leave believing she booked or paid when nothing was confirmed). The one payment record here is
`payment-void/1`: a payment the hub never answered, which the hub must not leave charged.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from kiosk.hospital.api import NewPatient, PregnancyForm
from mch_link.errors import LinkError

KIND_REGISTRATION = "kiosk-registration"
SCHEMA_REGISTRATION = "kiosk-registration/1"
KIND_PAYMENT_VOID = "payment-void"
SCHEMA_PAYMENT_VOID = "payment-void/1"
log = logging.getLogger(__name__)


class RecordQueue(Protocol):
    def add(self, kind: str, schema: str, body: dict[str, Any], made_at_ms: int | None = None) -> int: ...


def registration_body(patient: NewPatient, form: PregnancyForm | None, idempotency_key: str) -> dict[str, Any]:
    """The queued registration: the same data and idempotency key the live request would carry."""
    body: dict[str, Any] = {
        "idempotency_key": idempotency_key,
        "patient": {"id_number": patient.id_number, "name": patient.name, "sex": patient.sex,
                    "birth_date": patient.birth_date.isoformat(), "nation": patient.nation},
    }
    if form is not None:
        body["pregnancy"] = {"lmp": form.lmp.isoformat(), "height_cm": form.height_cm,
                             "pre_pregnancy_weight_kg": form.pre_pregnancy_weight_kg,
                             "gravidity": form.gravidity, "parity": form.parity,
                             "screening": dict(form.screening)}
    return body


def queue_registration(queue: RecordQueue, body: dict[str, Any]) -> bool:
    """Commit a registration to the outbox; False (and logged) when the outbox refuses it."""
    return _commit(queue, KIND_REGISTRATION, SCHEMA_REGISTRATION, body, "registration")


def _commit(queue: RecordQueue | None, kind: str, schema: str, body: dict[str, Any], what: str) -> bool:
    if queue is None:
        log.error("%s could not be queued: no outbox", what)
        return False
    try:
        queue.add(kind, schema, body)
    except (LinkError, OSError) as exc:
        log.error("%s could not be queued: %s", what, type(exc).__name__)
        return False
    return True


def void_body(idempotency_key: str, booking_id: str, amount_fen: int, terminal_id: str) -> dict[str, Any]:
    """An unanswered payment, by the idempotency key it was sent with (no card data: the hub has the rest)."""
    return {"idempotency_key": idempotency_key, "booking_id": booking_id, "amount_fen": amount_fen,
            "terminal_id": terminal_id}


def queue_void(queue: RecordQueue | None, body: dict[str, Any]) -> bool:
    """Commit a payment void to the outbox; False (and logged) when there is none or it refuses it."""
    return _commit(queue, KIND_PAYMENT_VOID, SCHEMA_PAYMENT_VOID, body, "payment void")
