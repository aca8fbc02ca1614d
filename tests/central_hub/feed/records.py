"""Synthetic records of the fed schemas (no real people: kiosk/idcard/synthetic identities) and a
way to commit them through the store's real ingest path (Txn.add_records -> commit)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import cbor2

from central_hub.datakey import DataCipher
from central_hub.store import Store
from central_hub.store.model import record_aad, record_digest
from kiosk.idcard.synthetic import synthetic_identity
from mch_link import schemas

T0_MS = 1_790_000_000_000  # 2026-09-21


def booking(rng: random.Random, n: int, *, colour: str = "green", items: tuple[str, ...] = (),
              registered: dt.date = dt.date(2026, 3, 1), ga_days: int = 70, area: str = "110105") -> dict[str, Any]:
    who = synthetic_identity(rng)
    lmp = registered - dt.timedelta(days=ga_days)
    body: dict[str, Any] = {
        "record_id": f"R{n:06d}", "patient_id": f"P{n:06d}", "id_number": who.id_number,
        "birth_date": who.birth_date.isoformat(), "area_code": area, "registered_date": registered.isoformat(),
        "lmp": lmp.isoformat(), "edd": (lmp + dt.timedelta(days=280)).isoformat(), "ga_days": ga_days,
        "gravidity": 2, "parity": 1, "height_cm": 160.0, "pre_pregnancy_weight_kg": 55.5,
        "systolic_mmhg": 118, "diastolic_mmhg": 76, "risk_colour": colour}
    if items:
        body["positive_items"] = list(items)
    schemas.validate("antenatal-booking/1", body)
    return body


def visit(n: int, k: int, *, day: dt.date = dt.date(2026, 4, 1), ga_days: int = 100) -> dict[str, Any]:
    body = {"visit_id": f"R{n:06d}-V{k}", "record_id": f"R{n:06d}", "patient_id": f"P{n:06d}",
            "visit_date": day.isoformat(), "ga_days": ga_days, "weight_kg": 58.0, "systolic_mmhg": 120,
            "diastolic_mmhg": 80, "fundal_height_cm": 18.0, "fhr_bpm": 148}
    schemas.validate("antenatal-visit/1", body)
    return body


def delivery(n: int, *, day: dt.date = dt.date(2026, 10, 1), ga_days: int = 275, live_births: int = 1,
             in_facility: bool = True, postpartum: dt.date | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"record_id": f"R{n:06d}", "patient_id": f"P{n:06d}", "delivery_date": day.isoformat(),
                            "ga_days": ga_days, "live_births": live_births, "in_facility": in_facility}
    if postpartum:
        body["postpartum_visit_date"] = postpartum.isoformat()
    schemas.validate("delivery/1", body)
    return body


def episode(episode_id: int, patient: str | None, event: str = "admitted") -> dict[str, Any]:
    body: dict[str, Any] = {"event": event, "episode_id": episode_id, "bed": "bed-1", "admitted_ms": T0_MS,
                            "at_ms": T0_MS}
    if patient:
        body["patient_id"] = patient
    if event == "discharged":
        body["discharged_ms"] = T0_MS + 3_600_000
    schemas.validate("episode/1", body)
    return body


def classification(episode_id: int, at_ms: int = T0_MS + 600_000) -> dict[str, Any]:
    body = {"bed": "bed-1", "episode_id": episode_id, "at_ms": at_ms, "figo": "suspicious", "nichd": "II",
            "window_start_ms": at_ms - 600_000, "window_end_ms": at_ms, "baseline_bpm": 145.5,
            "variability_bpm": 4.0, "reasons": ["reduced variability"]}
    schemas.validate("classification/1", body)
    return body


def record_row(cipher: DataCipher, device_id: str, msg_id: int, schema_id: str, body: Any,
               received_at_ms: int = T0_MS) -> Any:
    """A `records` row as the handler builds it."""
    plain = cbor2.dumps(body)
    key_id, nonce, sealed = cipher.seal(record_aad(device_id, msg_id), plain)
    return (device_id, msg_id, schema_id, None, None, received_at_ms, key_id, nonce, sealed,
            record_digest(None, plain))


def commit(store: Store, cipher: DataCipher, records: list[tuple[str, int, str, Any]],
           received_at_ms: int = T0_MS) -> None:
    """Commit (device, msg id, schema, body) rows as the ingest does: one transaction."""
    rows = [record_row(cipher, d, m, s, b, received_at_ms) for d, m, s, b in records]
    with store.transaction([]) as txn:
        txn.add_records(rows)
