"""Registrations a kiosk queued while the hub was down (`kiosk-registration/1`) become records.

The record store holds them like any record. A trigger on ``records`` puts each one in
``svc_intake`` (in the record's own statement, as the feed's outbox: a record stored once is
taken in once, and nothing is missed while no worker runs); `RegistrationIntake.step` takes them
in order and, in one services transaction each:

- enters the patient in the index (found by the ID number's blind index, or new);
- makes her pregnancy record as of the day she filled in the form (the record's ``made_at_ms``),
  unless this pregnancy has one already (the same registration delivered again, or made online
  after the hub came back): the same data -> ``matched``, nothing new; other data -> ``conflict``;
- keeps the outcome in ``svc_registrations`` (one row per queued record, keyed by device and
  message id, the queued body sealed): ``created``, ``matched``, ``conflict`` (the fields that
  differ are named, nothing is merged: the desk decides) or ``refused`` (the reason).

A record made here is written to the record store as ``pregnancy-record/1`` of the pseudo-device
``hub-services`` (no enrolled device id starts with "hub"), so the county feed and everything
that reads records take it as they take the kiosk's own. Written with ON CONFLICT DO NOTHING under
a message id fixed in the services transaction, so a step cut short is simply done again.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cbor2

from central_hub.datakey import DataCipher, DataKeyError
from central_hub.errors import StoreError
from central_hub.services.db import ServicesDb
from central_hub.services.errors import ServiceError
from central_hub.services.patients import PatientIndex
from central_hub.services.pregnancy import CONFLICT, MATCHED, NEW, PregnancyRecords
from central_hub.services.privacy import Privacy
from central_hub.store.base import Store
from central_hub.store.model import record_aad, record_digest
from mch_link import schemas
from mch_link.errors import LinkError

log = logging.getLogger(__name__)

SCHEMA = "kiosk-registration/1"
RECORD_SCHEMA = "pregnancy-record/1"
HUB_SERVICES_DEVICE = "hub-services"
CREATED, REFUSED = "created", "refused"  # and MATCHED, CONFLICT from pregnancy
PENDING, DONE = "pending", "done"
BATCH = 50
CHINA_TZ = dt.timezone(dt.timedelta(hours=8))
VERSION_KEY, VERSION = "svc_intake_version", "1"
_ADVISORY_LOCK = 7262016

_DDL = [
    "CREATE TABLE IF NOT EXISTS svc_intake (device_id TEXT NOT NULL, msg_id BIGINT NOT NULL,"
    " received_at_ms BIGINT NOT NULL, status TEXT NOT NULL, PRIMARY KEY (device_id, msg_id))",
    "CREATE INDEX IF NOT EXISTS svc_intake_status ON svc_intake (status, received_at_ms)",
]
_ENQUEUE = ("INSERT INTO svc_intake (device_id, msg_id, received_at_ms, status)"
            f" VALUES (NEW.device_id, NEW.msg_id, NEW.received_at_ms, '{PENDING}')"
            " ON CONFLICT (device_id, msg_id) DO NOTHING")
_SQLITE_TRIGGER = [
    "DROP TRIGGER IF EXISTS svc_intake_enqueue",
    f"CREATE TRIGGER svc_intake_enqueue AFTER INSERT ON records WHEN NEW.schema_id = '{SCHEMA}'"
    f" BEGIN {_ENQUEUE}; END"]
_PG_TRIGGER = [
    f"CREATE OR REPLACE FUNCTION svc_intake_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {_ENQUEUE};"
    " RETURN NULL; END $$",
    "DROP TRIGGER IF EXISTS svc_intake_enqueue ON records",
    "CREATE TRIGGER svc_intake_enqueue AFTER INSERT ON records FOR EACH ROW"
    f" WHEN (NEW.schema_id = '{SCHEMA}') EXECUTE FUNCTION svc_intake_enqueue()"]
_BACKFILL = ("INSERT INTO svc_intake (device_id, msg_id, received_at_ms, status) SELECT device_id, msg_id,"
             f" received_at_ms, '{PENDING}' FROM records WHERE schema_id = '{SCHEMA}'"
             " ON CONFLICT (device_id, msg_id) DO NOTHING")


def migrate(store: Store) -> None:
    """Create the intake table and trigger in the record store; the first time, take in what is there."""
    postgres = not store.url.startswith("sqlite")
    with store.write():
        if postgres:
            store.execute(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK})")
        for statement in _DDL:
            store.execute(statement)
        row = store.execute("SELECT v FROM hub_meta WHERE k = ?", (VERSION_KEY,)).fetchone()
        if row is None or row[0] != VERSION:
            for statement in _PG_TRIGGER if postgres else _SQLITE_TRIGGER:
                store.execute(statement)
            store.execute(_BACKFILL)
            store.execute("INSERT INTO hub_meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                          (VERSION_KEY, VERSION))


@dataclass(frozen=True)
class Registration:
    """What became of one queued registration (a row of ``svc_registrations``)."""

    device_id: str
    msg_id: int
    status: str  # created | matched | conflict | refused
    patient_id: str | None
    record_id: str | None
    detail: str  # what happened, with the fields that differ or the reason; never a value
    fed_msg_id: int | None  # the pregnancy-record/1 written for the feed (hub-services #n)
    created_ms: int


class RegistrationIntake:
    def __init__(self, store: Store, db: ServicesDb, cipher: DataCipher, patients: PatientIndex,
                 records: PregnancyRecords, clock: Callable[[], float] = time.time) -> None:
        self.store, self.db, self.cipher = store, db, cipher
        self.patients, self.records, self.clock = patients, records, clock
        self.privacy: Privacy = patients.privacy

    def step(self, limit: int = BATCH) -> int:
        """Take in up to `limit` pending registrations; returns how many were done."""
        rows = self.store.read(
            "SELECT i.device_id, i.msg_id, r.made_at_ms, r.received_at_ms, r.key_id, r.nonce, r.body"
            " FROM svc_intake i LEFT JOIN records r ON r.device_id = i.device_id AND r.msg_id = i.msg_id"
            f" WHERE i.status = '{PENDING}' ORDER BY i.received_at_ms, i.msg_id LIMIT ?", (limit,))
        for device_id, msg_id, made_ms, received_ms, key_id, nonce, sealed in rows:
            done = self._known(device_id, int(msg_id))
            if done is None:
                body = self._open(device_id, int(msg_id), key_id, nonce, sealed)
                # the kiosk's clock says when she filled it in; never later than the hub received it
                made = int(received_ms) if made_ms is None else min(int(made_ms), int(received_ms))
                done = self._take(device_id, int(msg_id), body, made)
                log.info("queued registration %s #%d: %s (%s)", device_id, msg_id, done.status, done.detail)
            self._finish(done)
        return len(rows)

    # -- one registration ------------------------------------------------------------------
    def _known(self, device_id: str, msg_id: int) -> Registration | None:
        rows = self.db.query("SELECT device_id, msg_id, status, patient_id, record_id, detail, fed_msg_id, created_ms"
                             " FROM svc_registrations WHERE device_id = ? AND msg_id = ?", (device_id, msg_id))
        return _registration(rows[0]) if rows else None

    def _open(self, device_id: str, msg_id: int, key_id: Any, nonce: Any, sealed: Any) -> dict[str, Any] | str:
        """The queued body, or why it cannot be taken in (a reason, kept with the refusal)."""
        if sealed is None:
            return "the queued record is not in the store"
        try:
            body = cbor2.loads(self.cipher.open(int(key_id), bytes(nonce), bytes(sealed), record_aad(device_id, msg_id)))
            schemas.validate(SCHEMA, body)
        except (DataKeyError, cbor2.CBORDecodeError) as exc:
            return f"the queued record does not open: {exc.__class__.__name__}"
        except LinkError as exc:
            return f"not a valid {SCHEMA}: {exc}"
        return body  # type: ignore[no-any-return]

    def _take(self, device_id: str, msg_id: int, body: dict[str, Any] | str, made_ms: int) -> Registration:
        now_ms = int(self.clock() * 1000)
        idem = body.get("idempotency_key", "") if isinstance(body, dict) else ""
        status, patient_id, record_id, feed, parts = REFUSED, None, None, False, []
        if isinstance(body, str):
            parts.append(body)
        else:
            try:
                patient_id, who, differ = self.patients.enter(body["patient"])
                parts.append(f"patient {who}" + (f": differs from the index in {', '.join(differ)}" if differ else ""))
                status = {NEW: CREATED, MATCHED: MATCHED, CONFLICT: CONFLICT}[who]
                if "pregnancy" in body:
                    day = dt.datetime.fromtimestamp(made_ms / 1000, CHINA_TZ).date()  # the day she filled it in
                    made = self.records.make(self.patients.get(patient_id), dict(body["pregnancy"]), day, made_ms)
                    # fed unless in conflict: a matched record is sent again, which the county's conditional
                    # create/update makes a no-op, so a step cut short after the record was made still feeds it
                    record_id, feed = made.record_id, made.status != CONFLICT
                    parts.append(f"pregnancy record {record_id} {made.status}"
                                 + (f": differs in {', '.join(made.differ)}" if made.differ else ""))
                    if made.status == CONFLICT:
                        status = CONFLICT
                    elif made.status == NEW and status != CONFLICT:
                        status = CREATED
            except ServiceError as exc:  # nothing was made (a new patient stays: she is who her card says)
                status = REFUSED
                parts.append(f"{exc.code}: {exc.message}")
        key_id, nonce, sealed = self.privacy.seal(f"registration/{device_id}/{msg_id}",
                                                  body if isinstance(body, dict) else None)
        with self.db.write():
            fed_msg_id = self.db.next_number(HUB_SERVICES_DEVICE) if feed else None
            self.db.execute("INSERT INTO svc_registrations (device_id, msg_id, idem_key, status, patient_id, record_id,"
                            " detail, fed_msg_id, made_ms, key_id, nonce, body, created_ms)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, msg_id) DO NOTHING",
                            (device_id, msg_id, idem, status, patient_id, record_id, "; ".join(parts), fed_msg_id,
                             made_ms, key_id, nonce, sealed, now_ms))
        known = self._known(device_id, msg_id)  # another worker may have been first: its row counts
        if known is None:
            raise StoreError(f"registration {device_id} #{msg_id} was not kept")
        return known

    def _finish(self, done: Registration) -> None:
        """Write the record for the feed (if one was made) and close the intake row, in one transaction."""
        rows: list[tuple[Any, ...]] = []
        if done.fed_msg_id is not None and done.record_id is not None:
            body = self.records.answer(done.record_id)
            schemas.validate(RECORD_SCHEMA, body)
            plain = cbor2.dumps(body)
            key_id, nonce, sealed = self.cipher.seal(record_aad(HUB_SERVICES_DEVICE, done.fed_msg_id), plain)
            rows.append((HUB_SERVICES_DEVICE, done.fed_msg_id, RECORD_SCHEMA, done.created_ms, None,
                         int(self.clock() * 1000), key_id, nonce, sealed, record_digest(done.created_ms, plain)))
        with self.store.transaction([]) as txn:
            if rows:
                txn.add_records(rows)
            self.store.execute(f"UPDATE svc_intake SET status = '{DONE}' WHERE device_id = ? AND msg_id = ?",
                               (done.device_id, done.msg_id))


class IntakeLoop:
    """`RegistrationIntake.step` every second on its own thread (and its own record-store connection)."""

    def __init__(self, intake: RegistrationIntake, every_s: float = 1.0) -> None:
        self.intake, self.every_s = intake, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hub-intake", daemon=True)

    def start(self) -> None:
        migrate(self.intake.store)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.intake.step() > 0
            except Exception:  # the store was unavailable, or a bug: log, wait, go on; nothing is lost
                log.exception("taking in queued registrations failed; retrying")
                busy = False
            if not busy:
                self._stop.wait(self.every_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        self.intake.store.close()


def registrations(db: ServicesDb, status: str | None = None, limit: int = 100) -> list[Registration]:
    """The queued registrations taken in, newest first (for the desk: conflicts and refusals to look at)."""
    where, params = ("WHERE status = ?", (status, limit)) if status else ("", (limit,))
    rows = db.query("SELECT device_id, msg_id, status, patient_id, record_id, detail, fed_msg_id, created_ms"
                    f" FROM svc_registrations {where} ORDER BY created_ms DESC, msg_id DESC LIMIT ?", params)
    return [_registration(r) for r in rows]


def _registration(r: Any) -> Registration:
    return Registration(r[0], int(r[1]), r[2], r[3], r[4], r[5], None if r[6] is None else int(r[6]), int(r[7]))
