"""Records kept for the hub when it cannot be reached (the link's durable outbox satisfies this).

Only identification and registration queue; booking and payment never do (a patient must not
leave believing she booked or paid when nothing was confirmed).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from kiosk.hospital.api import NewPatient, PregnancyForm

KIND_REGISTRATION = "kiosk-registration"
SCHEMA_REGISTRATION = "kiosk-registration/1"


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


def now_ms(clock: dt.datetime | None = None) -> int:
    return int((clock or dt.datetime.now(dt.UTC)).timestamp() * 1000)
