"""The hospital clinic system's (HIS) records into the hub's record store, as the front-end processor.

The HIS sends what its doctors record: the booking visit (`antenatal-booking/1`, 建册 + first check),
later checks (`antenatal-visit/1`) and the delivery (`delivery/1`). Each is checked against its
schema and a few rules a schema cannot say (a real date, the ID number's GB 11643 check digit),
then stored like a device record, as the pseudo-device ``hub-his``: the feed's trigger queues it for
the county in the same statement, and the indicators count it.

A record is known by its own identifier (the booking's and the delivery's ``record_id``, the visit's
``visit_id``): sent again with the same content it is ``already-stored`` (nothing added); with other
content it is refused (corrections are not taken by import: the county keeps what it was sent).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cbor2

from central_hub.datakey import DataCipher
from central_hub.services.patients import id_number_valid
from central_hub.store.base import Store
from central_hub.store.model import record_aad, record_digest
from mch_link import schemas
from mch_link.errors import LinkError

HIS_DEVICE = "hub-his"  # no enrolled device id starts with "hub"
BOOKING, VISIT, DELIVERY = "antenatal-booking/1", "antenatal-visit/1", "delivery/1"
KEY_FIELD = {BOOKING: "record_id", VISIT: "visit_id", DELIVERY: "record_id"}
DATE_FIELDS = ("birth_date", "registered_date", "lmp", "edd", "visit_date", "delivery_date", "postpartum_visit_date")
MAX_LINE_BYTES = 64 * 1024
STORED, ALREADY, REFUSED = "stored", "already-stored", "refused"
_ADVISORY_LOCK = 7262017

_DDL = ("CREATE TABLE IF NOT EXISTS his_records (schema_id TEXT NOT NULL, natural_key TEXT NOT NULL,"
        " msg_id BIGINT NOT NULL UNIQUE, digest TEXT NOT NULL, received_at_ms BIGINT NOT NULL,"
        " PRIMARY KEY (schema_id, natural_key))")


class HisRecordError(ValueError):
    """A record the hub does not take, with the reason (the field and the rule, never the value)."""


@dataclass(frozen=True)
class Outcome:
    line: int
    status: str  # stored | already-stored | refused
    schema_id: str | None
    key: str | None  # the record's own identifier (the HIS's, not personal data)
    reason: str | None = None


def parse(text: str) -> tuple[str, dict[str, Any]]:
    """One JSON line ``{"schema": "<kind>/<version>", "record": {...}}`` -> (schema id, checked body)."""
    if len(text.encode("utf-8", "replace")) > MAX_LINE_BYTES:
        raise HisRecordError(f"line longer than {MAX_LINE_BYTES} bytes")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HisRecordError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(doc, dict) or set(doc) != {"schema", "record"}:
        raise HisRecordError('want an object {"schema": ..., "record": {...}} and nothing else')
    schema_id, body = doc["schema"], doc["record"]
    if schema_id not in KEY_FIELD:
        raise HisRecordError(f"schema: want one of {', '.join(sorted(KEY_FIELD))}")
    try:
        schemas.validate(schema_id, body)
    except LinkError as exc:
        raise HisRecordError(str(exc)) from None
    for name in DATE_FIELDS:
        if name in body:
            try:
                dt.date.fromisoformat(body[name])
            except ValueError:
                raise HisRecordError(f"{schema_id}: /{name} is not a real date") from None
    if schema_id == BOOKING:
        if not id_number_valid(body["id_number"]):
            raise HisRecordError(f"{schema_id}: /id_number fails the GB 11643 check digit or birth date")
        if body["parity"] >= body["gravidity"]:
            raise HisRecordError(f"{schema_id}: /parity must be less than /gravidity (this pregnancy counts)")
    return schema_id, body


class HisInbound:
    """Store checked HIS records, once each, through the record store's normal path."""

    def __init__(self, store: Store, cipher: DataCipher, clock_ms: Callable[[], int] | None = None) -> None:
        self.store, self.cipher = store, cipher
        self.clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        with store.write():
            store.execute(_DDL)

    def take(self, lines: list[str]) -> list[Outcome]:
        """Each non-empty line checked and, if good and new, stored (one transaction per line: a bad
        line loses nothing of the others, and nothing of itself is stored)."""
        out = []
        for n, text in enumerate(lines, 1):
            if not text.strip():
                continue
            try:
                schema_id, body = parse(text)
            except HisRecordError as exc:
                out.append(Outcome(n, REFUSED, None, None, str(exc)))
                continue
            out.append(self._store_one(n, schema_id, body))
        return out

    def _store_one(self, line: int, schema_id: str, body: dict[str, Any]) -> Outcome:
        key = str(body[KEY_FIELD[schema_id]])
        plain = cbor2.dumps(body, canonical=True)
        digest = record_digest(None, plain)
        now = self.clock_ms()
        with self.store.transaction([]) as txn:
            if not self.store.url.startswith("sqlite"):  # one numbering at a time (SQLite's write lock does it)
                self.store.execute(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK})")
            known = self.store.execute("SELECT digest FROM his_records WHERE schema_id = ? AND natural_key = ?",
                                       (schema_id, key)).fetchone()
            if known is not None:
                if known[0] == digest:
                    return Outcome(line, ALREADY, schema_id, key)
                return Outcome(line, REFUSED, schema_id, key, f"{schema_id} {KEY_FIELD[schema_id]} {key} was received"
                               " before with other content: corrections are not taken by import")
            row = self.store.execute("SELECT max(msg_id) FROM his_records").fetchone()
            msg_id = (int(row[0]) if row and row[0] is not None else 0) + 1
            self.store.execute("INSERT INTO his_records (schema_id, natural_key, msg_id, digest, received_at_ms)"
                               " VALUES (?, ?, ?, ?, ?)", (schema_id, key, msg_id, digest, now))
            key_id, nonce, sealed = self.cipher.seal(record_aad(HIS_DEVICE, msg_id), plain)
            txn.add_records([(HIS_DEVICE, msg_id, schema_id, None, None, now, key_id, nonce, sealed, digest)])
        return Outcome(line, STORED, schema_id, key)
